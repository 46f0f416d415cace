"""Render plans for people: a text table per plan or frontier, and PNG plots (matplotlib, Agg).

Plots are written atomically (temporary name in the same directory, then ``os.replace``) so a
reader never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from curate.planner.budget import Plan


def human(x: float) -> str:
    """1234567 -> '1.23M': token and parameter counts at a glance."""
    if x != x:  # NaN
        return "nan"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True)))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(out)


def format_plan(plan: Plan) -> str:
    """A readable summary and per-bucket table of one plan."""
    fixed = " (fixed)" if plan.params_fixed else ""
    cap = "none" if plan.max_epochs is None else f"{plan.max_epochs:g}"
    lines = []
    if plan.params > 0:  # a planned plan (a hand-written plan.json holds only epochs per bucket)
        lines += [
            f"law: {plan.law}   compute: {plan.compute:.3g} FLOPs   max epochs: {cap}",
            f"model: {human(plan.params)} params{fixed}   tokens: {human(plan.tokens)}   "
            f"tokens/param: {plan.tokens / plan.params:.1f}   predicted loss: {plan.predicted_loss:.4f}",
            f"effective data: {human(plan.effective_data)}   lambda (marginal value threshold): {plan.lam:.4g}"
            + (f"   first-epoch premium: {plan.first_epoch_premium:.3g}" if plan.first_epoch_premium > 0 else ""),
            "",
        ]
    else:
        lines += [f"tokens: {human(plan.tokens)}", ""]
    header = ["bucket", "utility", "unique", "tokens", "epochs", "effective", "marginal", "share"]
    rows = [
        [
            b.name,
            f"{b.utility:g}",
            human(b.unique_tokens),
            human(b.tokens),
            f"{b.epochs:.2f}",
            human(b.effective_tokens),
            f"{b.marginal_value:.3f}",
            f"{b.tokens / plan.tokens:.1%}" if plan.tokens > 0 else "-",
        ]
        for b in plan.buckets
    ]
    lines.append(_table(header, rows))
    return "\n".join(lines)


def entry_budgets(plans: Sequence[Plan]) -> dict[str, float | None]:
    """For each bucket, the smallest budget of the frontier at which it gets any tokens (None: never)."""
    out: dict[str, float | None] = {b.name: None for b in plans[0].buckets} if plans else {}
    for p in sorted(plans, key=lambda q: q.compute):
        for b in p.buckets:
            if out.get(b.name) is None and b.tokens > 0:
                out[b.name] = p.compute
    return out


def format_frontier(plans: Sequence[Plan]) -> str:
    """One row per budget: N, D, loss and epochs per bucket; then where each bucket enters."""
    if not plans:
        return "(empty frontier)"
    names = [b.name for b in plans[0].buckets]
    header = ["compute", "params", "tokens", "loss", *[f"ep:{n}" for n in names]]
    rows = [
        [f"{p.compute:.3g}", human(p.params), human(p.tokens), f"{p.predicted_loss:.4f}", *[f"{b.epochs:.2f}" for b in p.buckets]]
        for p in plans
    ]
    entries = entry_budgets(plans)
    enter = ", ".join(f"{n}: {'never' if c is None else f'{c:.3g}'}" for n, c in entries.items())
    return _table(header, rows) + f"\n\nbucket enters at: {enter}"


def _figure(nrows: int):  # noqa: ANN202 - matplotlib types stay lazy
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, 1, figsize=(8, 3.6 * nrows), squeeze=False)
    return plt, fig, [ax[0] for ax in axes]


def _save_atomic(plt, fig, path: Path | str | BinaryIO) -> Path | BinaryIO:  # noqa: ANN001
    """Save `fig` as PNG to a file (atomically) or into an open binary stream."""
    if hasattr(path, "write"):
        try:
            fig.tight_layout()
            fig.savefig(path, format="png", dpi=110)
        finally:
            plt.close(fig)
        return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fig.tight_layout()
        fig.savefig(tmp, format="png", dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


def plot_plan(plan: Plan, path: Path | str | BinaryIO) -> Path | BinaryIO:
    """Bar charts of one plan: epochs per bucket (with the 4-epoch line) and tokens vs unique tokens."""
    plt, fig, (ax1, ax2) = _figure(2)
    names = [b.name for b in plan.buckets]
    xs = range(len(names))
    ax1.bar(xs, [b.epochs for b in plan.buckets], color="tab:blue")
    ax1.axhline(4.0, color="tab:red", linestyle="--", linewidth=1, label="4 epochs")
    ax1.set_xticks(list(xs), names, rotation=30, ha="right")
    ax1.set_ylabel("epochs")
    if plan.params > 0:
        ax1.set_title(f"{plan.law}: C={plan.compute:.3g} FLOPs, N={human(plan.params)}, D={human(plan.tokens)}, "
                      f"loss={plan.predicted_loss:.4f}")
    else:
        ax1.set_title(f"plan: D={human(plan.tokens)}")
    ax1.legend()
    width = 0.4
    ax2.bar([x - width / 2 for x in xs], [b.unique_tokens for b in plan.buckets], width, label="unique tokens", color="tab:gray")
    ax2.bar([x + width / 2 for x in xs], [b.tokens for b in plan.buckets], width, label="tokens drawn", color="tab:green")
    ax2.set_xticks(list(xs), names, rotation=30, ha="right")
    ax2.set_ylabel("tokens")
    ax2.legend()
    return _save_atomic(plt, fig, path)


def plot_frontier(plans: Sequence[Plan], path: Path | str) -> Path:
    """Epochs per bucket and predicted loss against compute (log x)."""
    plt, fig, (ax1, ax2) = _figure(2)
    computes = [p.compute for p in plans]
    for i, b in enumerate(plans[0].buckets if plans else []):
        ax1.plot(computes, [p.buckets[i].epochs for p in plans], marker="o", markersize=3, label=f"{b.name} (w={b.utility:g})")
    ax1.axhline(4.0, color="tab:red", linestyle="--", linewidth=1)
    ax1.set_xscale("log")
    ax1.set_ylabel("epochs")
    ax1.set_title(f"plan frontier ({plans[0].law if plans else ''})")
    ax1.legend(fontsize="small")
    ax2.plot(computes, [p.predicted_loss for p in plans], marker="o", markersize=3, color="black")
    ax2.set_xscale("log")
    ax2.set_xlabel("compute (FLOPs)")
    ax2.set_ylabel("predicted loss")
    return _save_atomic(plt, fig, path)

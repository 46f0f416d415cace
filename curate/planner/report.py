"""Render plans and calibrations for people: text tables and PNG plots (matplotlib, Agg).

Plots are written atomically (:func:`curate.store.atomic.atomic_path`: a temporary name then a rename
on the local disk, one upload at a URI) so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from curate.errors import import_extra
from curate.planner.budget import Plan
from curate.planner.units import human


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
    cap = "none" if plan.max_epochs is None else f"{plan.max_epochs:.4g}"
    default = plan.extra.get("max_epochs_default")
    if default and plan.max_epochs is not None:
        cap += f" (default: the most repetition seen to help at comparable N; {default['from']})"
    lines = []
    if plan.params > 0:  # a planned plan (a hand-written plan.json holds only epochs per bucket)
        lines += [
            f"law: {plan.law}   compute: {plan.compute:.3g} FLOPs   max epochs: {cap}",
            f"model: {human(plan.params)} params{fixed}   tokens: {human(plan.tokens)}   "
            f"tokens/param: {plan.tokens / plan.params:.1f}   predicted loss: {plan.predicted_loss:.4f}",
            f"effective data: {human(plan.effective_data)}   lambda (marginal value threshold): {plan.lam:.4g}"
            + (f"   first-epoch premium: {plan.first_epoch_premium:.3g}" if plan.first_epoch_premium > 0 else ""),
        ]
        ranges = plan.extra.get("ranges")
        if ranges:
            lines.append(f"over {ranges['draws']} bootstrap draws ({ranges['level']:.0%}): params "
                         f"{human(ranges['params'][0])}-{human(ranges['params'][1])}, predicted loss "
                         f"{ranges['predicted_loss'][0]:.4f}-{ranges['predicted_loss'][1]:.4f}"
                         + (f" ({ranges['source']})" if ranges.get("source") else ""))
        lines.append("")
    else:
        lines += [f"tokens: {human(plan.tokens)}", ""]
    lines.append(bucket_table(plan))
    if plan.extra.get("phases"):
        lines += ["", phase_table(plan.extra["phases"])]
    return "\n".join(lines)


def phase_table(phases: Sequence[Mapping[str, Any]], by: str | None = None) -> str:
    """One row per phase: its stretch of the run, its tokens, its rule and its share of every
    group `by` ("domains", "qualities"; default: domains, or buckets in a plan without domains)."""
    by = by or ("domains" if all("domains" in p for p in phases) else "buckets")
    keys = list(phases[0][by])
    rows = []
    for i, p in enumerate(phases):
        total = p["tokens"]
        shares = [(p[by][k]["share"] if by != "buckets" else (p[by][k] / total if total > 0 else 0.0)) for k in keys]
        rule = ("upsample " + ", ".join(f"{k} x{v:g}" for k, v in p["upsample"].items()) if p.get("upsample") else
                "proportions given" if p.get("proportions") else "plan's proportions")
        rows.append([f"{i + 1}: {p['start']:.3g}-{p['until']:.3g}", human(total), rule, *(f"{x:.1%}" for x in shares)])
    return _table(["phase", "tokens", "rule", *keys], rows)


def bucket_table(plan: Plan) -> str:
    """The per-bucket table of a plan: utility, unique tokens, tokens, epochs (and their range when
    the plan has ranges), effective tokens, marginal value and share of the run."""
    with_ranges = any(b.epochs_range for b in plan.buckets)
    header = ["bucket", "utility", "unique", "tokens", "epochs", *(["epochs range"] if with_ranges else []),
              "effective", "marginal", "share"]
    rows = [
        [
            b.name,
            f"{b.utility:.4g}",
            human(b.unique_tokens),
            human(b.tokens),
            f"{b.epochs:.2f}",
            *([f"{b.epochs_range[0]:.2f}-{b.epochs_range[1]:.2f}" if b.epochs_range else "-"] if with_ranges else []),
            human(b.effective_tokens),
            f"{b.marginal_value:.3f}",
            f"{b.tokens / plan.tokens:.1%}" if plan.tokens > 0 else "-",
        ]
        for b in plan.buckets
    ]
    return _table(header, rows)


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
    header = ["compute", "params", "tokens", "loss", *[f"ep:{n}" for n in names], "sensible"]
    rows = [
        [f"{p.compute:.3g}", human(p.params), human(p.tokens), f"{p.predicted_loss:.4f}", *[f"{b.epochs:.2f}" for b in p.buckets],
         "no" if p.extra.get("refusal") else "yes"]
        for p in plans
    ]
    entries = entry_budgets(plans)
    enter = ", ".join(f"{n}: {'never' if c is None else f'{c:.3g}'}" for n, c in entries.items())
    out = _table(header, rows) + f"\n\nbucket enters at: {enter}"
    refused = [p for p in plans if p.extra.get("refusal")]
    if refused:
        out += "\n\nnot sensible (curate plan refuses these budgets without --allow-extrapolation):"
        out += "".join(f"\n  {p.compute:.3g} FLOPs: {p.extra['refusal']}" for p in refused)
    return out


def require_plotting() -> Any:
    """matplotlib (the ``plot`` extra); MissingExtra naming it when not installed. The verbs that
    take --plot call it before any work."""
    return import_extra("matplotlib", "plot", "plotting (--plot, plan.png)")


def _figure(nrows: int):  # noqa: ANN202 - matplotlib types stay lazy
    matplotlib = require_plotting()

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, 1, figsize=(8, 3.6 * nrows), squeeze=False)
    return plt, fig, [ax[0] for ax in axes]


def _y_scale(ax, values: Sequence[float]) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Log scale where the positive values span more than a decade, else plain numbers without an
    offset (no '1e-11+1.42e1' axis labels)."""
    positive = [v for v in values if v > 0 and v == v and v != float("inf")]
    if positive and max(positive) > 10 * min(positive):
        ax.set_yscale("log")
    else:
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)


def _save_atomic(plt, fig, path: Path | str | BinaryIO) -> Path | str | BinaryIO:  # noqa: ANN001
    """Save `fig` as PNG into an open binary stream or to a file (a local path or a URI,
    atomically: see :func:`curate.store.atomic.atomic_path`); returns where."""
    from curate.store.atomic import atomic_path

    try:
        fig.tight_layout()
        if hasattr(path, "write"):
            fig.savefig(path, format="png", dpi=110)
        else:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)
    return path


def plot_plan(plan: Plan, path: Path | str | BinaryIO) -> Path | str | BinaryIO:
    """Bar charts of one plan: epochs per bucket (with the 4-epoch line) and tokens vs unique tokens."""
    plt, fig, (ax1, ax2) = _figure(2)
    names = [b.name for b in plan.buckets]
    xs = range(len(names))
    ranges = [b.epochs_range for b in plan.buckets]
    yerr = None
    if all(ranges):
        yerr = [[max(0.0, b.epochs - r[0]) for b, r in zip(plan.buckets, ranges)],
                [max(0.0, r[1] - b.epochs) for b, r in zip(plan.buckets, ranges)]]
    ax1.bar(xs, [b.epochs for b in plan.buckets], color="tab:blue", yerr=yerr, capsize=4)
    ax1.axhline(4.0, color="tab:red", linestyle="--", linewidth=1, label="4 epochs")
    _y_scale(ax1, [b.epochs for b in plan.buckets] + [r[1] for r in ranges if r])
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
    _y_scale(ax2, [b.unique_tokens for b in plan.buckets] + [b.tokens for b in plan.buckets])
    ax2.legend()
    return _save_atomic(plt, fig, path)


def plot_frontier(plans: Sequence[Plan], path: Path | str) -> Path | str:
    """Epochs per bucket and predicted loss against compute (log x), with a model-size panel and the
    95% bands over bootstrap draws when the plans have ranges; budgets whose plan is not sensible are
    marked with a grey cross."""
    ranged = bool(plans) and all(p.extra.get("ranges") for p in plans)
    plt, fig, axes = _figure(3 if ranged else 2)
    ax1, ax_loss = axes[0], axes[-1]
    computes = [p.compute for p in plans]
    epochs_seen: list[float] = []
    for i, b in enumerate(plans[0].buckets if plans else []):
        ys = [p.buckets[i].epochs for p in plans]
        line = ax1.plot(computes, ys, marker="o", markersize=3, label=f"{b.name} (w={b.utility:g})")[0]
        epochs_seen += ys
        if ranged:
            lo_hi = [p.buckets[i].epochs_range for p in plans]
            ax1.fill_between(computes, [r[0] for r in lo_hi], [r[1] for r in lo_hi], color=line.get_color(), alpha=0.2)
            epochs_seen += [r[1] for r in lo_hi]
    ax1.axhline(4.0, color="tab:red", linestyle="--", linewidth=1)
    ax1.set_xscale("log")
    _y_scale(ax1, epochs_seen)
    ax1.set_ylabel("epochs")
    title = f"plan frontier ({plans[0].law if plans else ''})"
    if ranged:
        r = plans[0].extra["ranges"]
        title += f": bands are {r['level']:.0%} of {r['draws']} bootstrap draws"
    ax1.set_title(title)
    ax1.legend(fontsize="small")
    if ranged:
        ax_n = axes[1]
        ax_n.plot(computes, [p.params for p in plans], marker="o", markersize=3, color="tab:purple")
        ax_n.fill_between(computes, [p.extra["ranges"]["params"][0] for p in plans],
                          [p.extra["ranges"]["params"][1] for p in plans], color="tab:purple", alpha=0.2)
        ax_n.set_xscale("log")
        _y_scale(ax_n, [p.params for p in plans])
        ax_n.set_ylabel("model size N (parameters)")
        ax_loss.fill_between(computes, [p.extra["ranges"]["predicted_loss"][0] for p in plans],
                             [p.extra["ranges"]["predicted_loss"][1] for p in plans], color="grey", alpha=0.2)
    ax_loss.plot(computes, [p.predicted_loss for p in plans], marker="o", markersize=3, color="black")
    refused = [p for p in plans if p.extra.get("refusal")]
    if refused:
        ax_loss.scatter([p.compute for p in refused], [p.predicted_loss for p in refused], marker="x", s=60,
                        color="grey", zorder=3, label="not sensible (refused)")
        ax_loss.legend(fontsize="small")
    ax_loss.set_xscale("log")
    _y_scale(ax_loss, [p.predicted_loss for p in plans])
    ax_loss.set_xlabel("compute (FLOPs)")
    ax_loss.set_ylabel("predicted loss")
    return _save_atomic(plt, fig, path)


def format_calibration(doc: Mapping[str, Any]) -> str:
    """The fit report of a law.json document: fitted values with intervals, fit quality, residuals."""
    fit = doc["fit"]
    iv = doc.get("intervals", {})
    level = iv.get("level", 0.95)
    values: list[tuple[str, float | None]] = [(k, doc["base"][k]) for k in ("E", "A", "B", "alpha", "beta")]
    values += [("r_d_star", doc["r_d_star"]), ("r_n_star", doc.get("r_n_star"))]
    for b, entry in doc.get("buckets", {}).items():
        values += [(f"utility:{b}", entry["utility"]), (f"r_d_star:{b}", entry.get("r_d_star"))]
    fitted = set(doc.get("fitted", []))
    profile = doc.get("profile_intervals") or {}
    rows = []
    for name, value in values:
        if value is None:
            continue
        lo_hi, prof = iv.get(name), profile.get(name)
        rows.append([name, f"{value:.6g}", "fitted" if name in fitted else "fixed",
                     f"[{lo_hi[0]:.4g}, {lo_hi[1]:.4g}]" if lo_hi else "-",
                     f"[{prof[0]:.4g}, {prof[1]:.4g}]" if prof else "-"])
    holdout = fit["holdout"]
    lines = [
        f"fit: {'+'.join(fit['kinds'])} on {fit['runs']} runs (base {fit['base']}); {fit['loss']}",
        f"R^2 = {_fmt(fit['r2'])}   RMSE = {_fmt(fit['rmse'])}   objective = {fit['objective']:.6g}"
        + (f"   ({fit['starts']} starts, polished, no start lower)" if fit.get("checked") and "starts" in fit else "")
        + ("" if fit["converged"] else "   (optimiser did not report convergence)"),
        f"held out: {len(holdout['runs'])} runs, mean absolute error {_fmt(holdout['mae'])}" if holdout["runs"]
        else "held out: none (use --holdout to measure prediction error)",
        f"bootstrap: {doc['bootstrap']['draws']} draws (seed {doc['bootstrap']['seed']}), {level:.0%} percentile intervals; "
        f"profile likelihood: {level:.0%} intervals" + ("" if profile else " not computed"),
        "",
        _table(["value", "estimate", "how", f"bootstrap {level:.0%}", f"profile {level:.0%}"], rows),
        "",
    ]
    poorly = doc.get("poorly_determined") or {}
    if poorly:
        lines += [f"poorly determined: {'; '.join(why)}" for why in poorly.values()] + [""]
    res = doc.get("residuals", [])
    worst = sorted(res, key=lambda r: -abs(r["residual"]))[:10]
    lines.append(_table(["run (largest residuals)", "loss", "predicted", "residual", "set"],
                        [[r["name"], f"{r['loss']:.4f}", f"{r['predicted']:.4f}", f"{r['residual']:+.4f}",
                          "held out" if r["held_out"] else ("fit" if r["fitted"] else "unused")] for r in worst]))
    qqt = doc.get("qqt_comparison")
    if qqt:
        lines += ["", "QQT comparison (Goyal et al. 2024), fitted on the same runs:",
                  _table(["law", "R^2", "held-out MAE"],
                         [["ours", _fmt(qqt["ours_r2"]), _fmt(qqt["ours_holdout_mae"])],
                          ["QQT", _fmt(qqt["r2"]), _fmt(qqt["holdout_mae"])]])]
        if qqt["better_on_holdout"]:
            lines.append(f"better on the held-out runs: {qqt['better_on_holdout']}")
        lines.append("QQT values: " + ", ".join(f"{k[4:]}={v:.4g}" for k, v in qqt["values"].items()
                                                 if k.startswith("qqt_")))
    rng = doc.get("range", {})
    if rng:
        lines += ["", f"fitted on: N {human(rng['params'][0])}..{human(rng['params'][1])}, "
                      f"D {human(rng['tokens'][0])}..{human(rng['tokens'][1])}, "
                      f"epochs {rng['epochs'][0]:.3g}..{rng['epochs'][1]:.3g}"]
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.4g}"


def plot_residuals(doc: Mapping[str, Any], path: Path | str) -> Path | str:
    """Predicted against observed loss, and residual against run, fitted and held-out runs marked."""
    plt, fig, (ax1, ax2) = _figure(2)
    res = doc.get("residuals", [])
    for label, pick, color in (("fit", lambda r: r["fitted"], "tab:blue"),
                               ("held out", lambda r: r["held_out"], "tab:red"),
                               ("unused", lambda r: not r["fitted"] and not r["held_out"], "tab:gray")):
        sel = [r for r in res if pick(r)]
        if not sel:
            continue
        ax1.scatter([r["predicted"] for r in sel], [r["loss"] for r in sel], s=12, color=color, label=label)
        ax2.scatter([r["predicted"] for r in sel], [r["residual"] for r in sel], s=12, color=color, label=label)
    if res:
        lo = min(min(r["loss"], r["predicted"]) for r in res)
        hi = max(max(r["loss"], r["predicted"]) for r in res)
        ax1.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax1.set_xlabel("predicted loss")
    ax1.set_ylabel("observed loss")
    ax1.set_title(f"calibration: {'+'.join(doc['fit']['kinds'])}, R^2 = {_fmt(doc['fit']['r2'])}")
    ax1.legend(fontsize="small")
    ax2.axhline(0.0, color="black", linewidth=1)
    ax2.set_xlabel("predicted loss")
    ax2.set_ylabel("observed - predicted")
    return _save_atomic(plt, fig, path)

"""A mixture law's fit report (text) and its predicted-vs-measured plot (PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from curate.planner.report import _figure, _save_atomic, _table


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def format_mixture_calibration(doc: Mapping[str, Any], top: int = 10) -> str:
    """The fit: model and target, scores in and out of sample, constants with intervals, worst runs."""
    fit = doc["fit"]
    ins, out = fit["in_sample"], fit["holdout"]
    weights = doc["target"]["weights"]
    lines = [
        f"mixture law: {doc['model']} over {len(doc['domains'])} training domains, target {doc['target']['name']}"
        + (f" (weighted sum of {len(weights)} validation losses)" if len(weights) > 1 else ""),
        f"fit: {fit['method']}" + (f"; {fit['loss']}" if "loss" in fit else ""),
        f"in-sample: {ins['runs']} runs, Spearman {_fmt(ins['spearman'])}, mean absolute error {_fmt(ins['mae'])}",
        (f"held out: {out['runs']} runs, Spearman "
         f"{_fmt(out['spearman'])}, mean absolute error {_fmt(out['mae'])}") if out["runs"]
        else "held out: none (use --holdout K or --holdout NAME,... to measure prediction on unseen runs)",
    ]
    if fit.get("converged") is False:
        lines.append("the optimiser did not report convergence for every validation domain")
    boot = doc["bootstrap"]
    iv = doc.get("intervals", {})
    if boot["draws"]:
        lines.append(f"bootstrap: {boot['draws']} draws (seed {boot['seed']}), {iv.get('level', 0.95):.0%} intervals")
    section = doc.get(doc["model"], {})
    rows = []
    if doc["model"] == "exponential":
        for v, entry in section.items():
            rows.append([f"{v}: c", f"{entry['c']:.5g}", _iv(iv.get(f"{v}:c"))])
            rows.append([f"{v}: k", f"{entry['k']:.5g}", _iv(iv.get(f"{v}:k"))])
            for d, t in sorted(entry["t"].items(), key=lambda kv: kv[1])[:top]:
                rows.append([f"{v}: t[{d}]", f"{t:.5g}", _iv(iv.get(f"{v}:t:{d}"))])
    elif doc["model"] == "linear":
        for d, b in section["beta"].items():
            rows.append([f"beta[{d}]", f"{b:.5g}", _iv(iv.get(f"beta:{d}"))])
    if rows:
        lines += ["", _table(["constant", "estimate", "interval"], rows)]
    worst = sorted(doc["residuals"], key=lambda r: -abs(r["residual"]))[:top]
    lines += ["", _table(["run (largest residuals)", "loss", "predicted", "residual", "set"],
                         [[r["name"], f"{r['loss']:.4f}", f"{r['predicted']:.4f}", f"{r['residual']:+.4f}",
                           "held out" if r["held_out"] else "fit"] for r in worst])]
    return "\n".join(lines)


def _iv(pair: list[float] | None) -> str:
    return "-" if not pair else f"[{pair[0]:.4g}, {pair[1]:.4g}]"


def plot_predicted_measured(doc: Mapping[str, Any], path: Path | str) -> Path | str:
    """Measured against predicted target loss, fitted and held-out runs marked, with the diagonal."""
    plt, fig, (ax,) = _figure(1)
    res = doc["residuals"]
    fit = doc["fit"]
    for label, held, color in (("fit", False, "tab:blue"), ("held out", True, "tab:red")):
        sel = [r for r in res if r["held_out"] == held]
        if sel:
            ax.scatter([r["predicted"] for r in sel], [r["loss"] for r in sel], s=10, color=color, label=label)
    lo = min(min(r["loss"], r["predicted"]) for r in res)
    hi = max(max(r["loss"], r["predicted"]) for r in res)
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax.set_xlabel("predicted loss")
    ax.set_ylabel("measured loss")
    held = fit["holdout"]["spearman"]
    ax.set_title(f"{doc['model']} law, target {doc['target']['name']}: Spearman {_fmt(fit['in_sample']['spearman'])} "
                 f"in sample" + (f", {_fmt(held)} held out" if held is not None else ""))
    ax.legend(fontsize="small")
    return _save_atomic(plt, fig, path)

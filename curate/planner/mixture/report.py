"""A mixture law's fit report (text) and its predicted-vs-measured plot (PNG); a mixture plan's
summary (text) and its shares and epochs (PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from curate.planner.budget import Plan
from curate.planner.report import _figure, _save_atomic, _table, _y_scale, bucket_table, phase_table
from curate.planner.units import human


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


def format_mixture_plan(plan: Plan) -> str:
    """A mixture plan: the run, the loss and its parts, shares per domain, epochs per (domain,
    quality) bucket, and the phases."""
    x = plan.extra
    law = x["mixture_law"]
    cap = "none" if plan.max_epochs is None else f"{plan.max_epochs:.4g}"
    if x.get("max_epochs_default") and plan.max_epochs is not None:
        cap += f" (default: {x['max_epochs_default']['from']})"
    lines = [
        f"mixture law: {plan.law} ({law['model']}, target {law['target']})   repetition law: {x['repetition_law']}   "
        f"compute: {plan.compute:.3g} FLOPs   max epochs: {cap}",
        f"model: {human(plan.params)} params{' (fixed)' if plan.params_fixed else ''}   tokens: {human(plan.tokens)}   "
        f"tokens/param: {plan.tokens / plan.params:.1f}",
        f"predicted loss: {plan.predicted_loss:.4f} = {x['law_loss']:.4f} (the law at the effective shares) "
        f"{x['repetition_charge']:+.4f} (tokens lost to repetition, charged by {x['repetition_law']}'s data term)",
        f"shares: {x['method']}",
    ]
    ranges = x.get("ranges") or {}
    if "predicted_loss" in ranges:
        lines.append(f"over {ranges['draws']} bootstrap draws ({ranges['level']:.0%}): predicted loss "
                     f"{ranges['predicted_loss'][0]:.4f}-{ranges['predicted_loss'][1]:.4f}")
    domains = x["domains"]
    ranged = all("share_range" in v for v in domains.values())
    rows = [[d, f"{v['share']:.2%}", *([f"{v['share_range'][0]:.1%}-{v['share_range'][1]:.1%}"] if ranged else []),
             human(v["tokens"]), human(v["unique_tokens"]), f"{v['epochs']:.2f}", f"{v['effective_share']:.2%}"]
            for d, v in domains.items()]
    lines += ["", _table(["domain", "share", *(["share range"] if ranged else []), "tokens", "unique", "epochs",
                          "effective share"], rows), "", bucket_table(plan)]
    if x.get("phases"):
        lines += ["", phase_table(x["phases"])]
        if all("qualities" in p for p in x["phases"]):
            lines += ["", phase_table(x["phases"], by="qualities")]
    return "\n".join(lines)


def _stacked(ax, columns: list[tuple[str, list[float]]], names: list[str], colors) -> None:  # noqa: ANN001
    """Stacked bars, one per column (a label and one share per name), one colour per name."""
    bottom = [0.0] * len(columns)
    for j, name in enumerate(names):
        heights = [c[1][j] for c in columns]
        ax.bar(range(len(columns)), heights, bottom=bottom, color=colors(j % 20), label=name)
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(range(len(columns)), [c[0] for c in columns])
    ax.set_ylabel("share of tokens")
    ax.legend(fontsize="x-small", ncol=max(1, len(names) // 8), loc="upper left", bbox_to_anchor=(1.0, 1.0))


def plot_mixture_plan(plan: Plan, path: Any) -> Any:
    """Each phase's share of every domain next to the domains' share of the unique tokens (the
    natural distribution); with phases, each phase's share of every quality (what upsampling moves);
    and the epochs of every (domain, quality) bucket."""
    phases = plan.extra.get("phases") or []
    by_quality = bool(phases) and all("qualities" in p for p in phases)
    plt, fig, axes = _figure(3 if by_quality else 2)
    ax1, ax2 = axes[0], axes[-1]
    buckets = plan.buckets
    fig.set_size_inches(max(8.0, 0.28 * len(buckets)), fig.get_size_inches()[1])
    domains = plan.extra["domains"]
    names = list(domains)
    natural_total = sum(v["unique_tokens"] for v in domains.values()) or 1.0
    phase_labels = [f"phase {i + 1} (to {p['until']:.2g})" for i, p in enumerate(phases)]
    colors = plt.get_cmap("tab20")
    _stacked(ax1, [("unique tokens", [domains[d]["unique_tokens"] / natural_total for d in names]),
                   ("whole run", [domains[d]["share"] for d in names]),
                   *((label, [p["domains"][d]["share"] for d in names]) for label, p in zip(phase_labels, phases))],
             names, colors)
    ax1.set_title(f"{Path(plan.law).name}: C={plan.compute:.3g} FLOPs, N={human(plan.params)}, "
                  f"D={human(plan.tokens)}, loss={plan.predicted_loss:.4f}")
    if by_quality:
        qualities = list(phases[0]["qualities"])
        whole = {q: sum(b.tokens for b in buckets if b.quality == q) / (plan.tokens or 1.0) for q in qualities}
        _stacked(axes[1], [("whole run", [whole[q] for q in qualities]),
                           *((label, [p["qualities"][q]["share"] for q in qualities])
                             for label, p in zip(phase_labels, phases))], qualities, plt.get_cmap("Set2"))
    order = {d: j for j, d in enumerate(names)}
    yerr = None
    if all(b.epochs_range for b in buckets):
        yerr = [[max(0.0, b.epochs - b.epochs_range[0]) for b in buckets],
                [max(0.0, b.epochs_range[1] - b.epochs) for b in buckets]]
    ax2.bar(range(len(buckets)), [b.epochs for b in buckets], yerr=yerr, capsize=2,
            color=[colors(order.get(b.domain, 0) % 20) for b in buckets])
    ax2.axhline(4.0, color="tab:red", linestyle="--", linewidth=1, label="4 epochs")
    ax2.set_xticks(range(len(buckets)), [b.name for b in buckets], rotation=60, ha="right", fontsize="x-small")
    ax2.set_ylabel("epochs")
    _y_scale(ax2, [b.epochs for b in buckets if b.epochs > 0])
    ax2.legend(fontsize="small")
    return _save_atomic(plt, fig, path)

"""Numbers for people: token and parameter counts at a glance (used by reports and messages)."""

from __future__ import annotations


def human(x: float) -> str:
    """1234567 -> '1.23M'."""
    if x != x:  # NaN
        return "nan"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"

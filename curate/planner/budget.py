"""Budget planner: how many epochs of each quality bucket, and how large a model, for a compute budget.

Pure math, no I/O. For a fixed model size N the token budget is D = C / (6N) (Kaplan et al.
2020; Hoffmann et al. 2022: C = 6 N D). The planner splits D over buckets to maximise the
effective data D_eff = sum_i w_i * D'(D_i, U_i), a separable concave problem solved exactly by
water-filling on a threshold lambda (see :func:`allocate`). Under the datablations law the
parameter term also depends on the allocation when N > D_to_N(U_used); there the planner searches
the allocation family on predicted loss (see :func:`_solve_fixed_params`). With N free it
minimises predicted loss over log N.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from curate.errors import ConfigError, InfeasibleError
from curate.planner import limits
from curate.planner.lawfile import CalibratedLaw, resolve_law
from curate.planner.laws import R_D_STAR, Law, effective_tokens, repeat_value

# Warning thresholds, from the literature.
# Muennighoff et al. 2023: up to ~4 epochs repeated data is almost as good as fresh data
# (D'/D = 3.7256731/4 = 93% at 4 epochs), returns diminish beyond.
EPOCHS_WARN = 4.0
# exp(-(e - 1)/R_D*) < 0.1 at e > 1 + R_D* ln 10 ~ 36.4 epochs: a repeated token is worth
# under a tenth of a fresh one, the bucket's value is nearly exhausted.
REPEAT_VALUE_WARN = 0.1
# Hernandez et al. 2022, "Scaling Laws and Interpretability of Learning from Repeated Data":
# repeating 0.1% of the data 100 times degraded an 800M model to the level of a 400M one.
SMALL_SLICE_UNIQUE_SHARE = 0.01
SMALL_SLICE_TRAINING_SHARE = 0.05

_N_SEARCH_XTOL = 1e-6  # in ln N: far below the 0.1% asked for
_N_DRAW_XTOL = 5e-5  # replanning under a bootstrap draw: ~0.1% in N (relative to |ln N| ~ 20) suffices for a range
_PREMIUM_SEARCH_XTOL = 1e-12
_PREMIUM_DRAW_XTOL = 1e-3  # replanning under a bootstrap draw (epochs to ~0.1%)
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Bucket:
    """A quality bucket: its unique tokens and the value of one fresh token of it (utility).

    ``r_d`` is the bucket's own repetition constant R_D* (a calibrated law gives one per bucket);
    None uses the law's.
    """

    name: str
    unique_tokens: float
    utility: float = 1.0
    docs: int | None = None
    mean_score: float | None = None
    r_d: float | None = None


@dataclass(frozen=True)
class BucketPlan:
    """The plan for one bucket. `marginal_value` = utility x repeat_value (value of one more token)."""

    name: str
    unique_tokens: float
    utility: float
    tokens: float
    epochs: float
    effective_tokens: float
    marginal_value: float
    repeat_value: float
    epochs_range: list[float] | None = None  # [lo, hi] over a calibrated law's bootstrap draws
    domain: str | None = None  # a mixture plan's buckets: the (domain, quality) pair
    quality: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The bucket entry of plan.json: every field, in declaration order (domain and quality
        only in a mixture plan's buckets)."""
        out = asdict(self)
        for key in ("domain", "quality"):
            if out[key] is None:
                del out[key]
        return out


@dataclass(frozen=True)
class Plan:
    """A training plan: model size N, tokens D, predicted loss and the allocation per bucket."""

    law: str
    compute: float
    params: float
    tokens: float
    predicted_loss: float
    lam: float
    buckets: tuple[BucketPlan, ...]
    warnings: tuple[str, ...] = ()
    max_epochs: float | None = None
    params_fixed: bool = False
    effective_data: float = 0.0
    unique_tokens_used: float = 0.0
    first_epoch_premium: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def bucket(self, name: str) -> BucketPlan:
        for b in self.buckets:
            if b.name == name:
                return b
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The plan.json format (issue 5); keys after ``warnings`` are extras."""
        return {
            "law": self.law,
            "compute": self.compute,
            "params": self.params,
            "tokens": self.tokens,
            "predicted_loss": self.predicted_loss if math.isfinite(self.predicted_loss) else None,
            "lambda": self.lam if math.isfinite(self.lam) else None,
            "buckets": [b.to_dict() for b in self.buckets],
            "warnings": list(self.warnings),
            "max_epochs": self.max_epochs,
            "params_fixed": self.params_fixed,
            "effective_data": self.effective_data,
            "unique_tokens_used": self.unique_tokens_used,
            "first_epoch_premium": self.first_epoch_premium,
            "tokens_per_param": self.tokens / self.params if self.params else None,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan.json document (hand-written ones need only ``buckets`` with name and epochs)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("buckets"), list):
            raise ConfigError("plan: expected an object with a 'buckets' list")
        buckets = []
        seen: set[str] = set()
        for i, b in enumerate(data["buckets"]):
            if not isinstance(b, Mapping) or not isinstance(b.get("name"), str):
                raise ConfigError(f"plan: buckets[{i}] needs a string 'name'")
            if b["name"] in seen:
                raise ConfigError(f"plan: bucket name '{b['name']}' appears twice")
            seen.add(b["name"])
            epochs = _number(b, "epochs", f"plan: bucket '{b['name']}'", minimum=0.0)
            unique = _number(b, "unique_tokens", f"plan: bucket '{b['name']}'", minimum=0.0, default=0.0)
            buckets.append(
                BucketPlan(
                    name=b["name"],
                    unique_tokens=unique,
                    utility=_number(b, "utility", f"plan: bucket '{b['name']}'", minimum=0.0, default=1.0),
                    tokens=_number(b, "tokens", f"plan: bucket '{b['name']}'", minimum=0.0, default=epochs * unique),
                    epochs=epochs,
                    effective_tokens=_number(b, "effective_tokens", "plan", default=0.0),
                    marginal_value=_number(b, "marginal_value", "plan", default=0.0),
                    repeat_value=_number(b, "repeat_value", "plan", default=0.0),
                    epochs_range=_range(b.get("epochs_range"), f"plan: bucket '{b['name']}'"),
                    domain=_label(b, "domain", f"plan: bucket '{b['name']}'"),
                    quality=_label(b, "quality", f"plan: bucket '{b['name']}'"),
                )
            )
        known = {
            "law", "compute", "params", "tokens", "predicted_loss", "lambda", "buckets", "warnings",
            "max_epochs", "params_fixed", "effective_data", "unique_tokens_used", "first_epoch_premium",
            "tokens_per_param",
        }
        return cls(
            law=str(data.get("law", "")),
            compute=float(data.get("compute") or 0.0),
            params=float(data.get("params") or 0.0),
            tokens=float(data.get("tokens") or sum(b.tokens for b in buckets)),
            predicted_loss=math.nan if data.get("predicted_loss") is None else float(data["predicted_loss"]),
            lam=float(data.get("lambda") or 0.0),
            buckets=tuple(buckets),
            warnings=tuple(str(w) for w in data.get("warnings", [])),
            max_epochs=data.get("max_epochs"),
            params_fixed=bool(data.get("params_fixed", False)),
            effective_data=float(data.get("effective_data") or 0.0),
            unique_tokens_used=float(data.get("unique_tokens_used") or 0.0),
            first_epoch_premium=float(data.get("first_epoch_premium") or 0.0),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _label(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not (isinstance(value, str) and value):
        raise ConfigError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


def _range(value: Any, where: str) -> list[float] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        raise ConfigError(f"{where}: 'epochs_range' must be [lo, hi], got {value!r}")
    return [float(value[0]), float(value[1])]


def _number(obj: Mapping[str, Any], key: str, where: str, minimum: float | None = None, default: Any = None) -> float:
    value = obj.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: missing '{key}'")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: '{key}' must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: '{key}' must be >= {minimum}, got {value}")
    return float(value)


def buckets_from_dict(data: Mapping[str, Any]) -> list[Bucket]:
    """Parse a buckets.json document ``{"buckets": [{"name", "docs", "unique_tokens", "mean_score", "utility"}]}``."""
    if not isinstance(data, Mapping) or not isinstance(data.get("buckets"), list):
        raise ConfigError("buckets: expected an object with a 'buckets' list")
    out: list[Bucket] = []
    seen: set[str] = set()
    for i, b in enumerate(data["buckets"]):
        if not isinstance(b, Mapping) or not isinstance(b.get("name"), str) or not b["name"]:
            raise ConfigError(f"buckets[{i}]: needs a non-empty string 'name'")
        name = b["name"]
        if name in seen:
            raise ConfigError(f"buckets: name '{name}' appears twice")
        seen.add(name)
        where = f"bucket '{name}'"
        docs = b.get("docs")
        if docs is not None and (isinstance(docs, bool) or not isinstance(docs, int) or docs < 0):
            raise ConfigError(f"{where}: 'docs' must be a non-negative integer, got {docs!r}")
        mean_score = b.get("mean_score")
        out.append(
            Bucket(
                name=name,
                unique_tokens=_number(b, "unique_tokens", where, minimum=0.0),
                utility=_number(b, "utility", where, minimum=0.0, default=1.0),
                docs=docs,
                mean_score=None if mean_score is None else _number(b, "mean_score", where),
            )
        )
    return out


def buckets_for_law(data: Mapping[str, Any], law: str | Law | CalibratedLaw, where: str) -> tuple[list[Bucket], Law | CalibratedLaw]:
    """Parse buckets.json for planning under `law` (resolved and returned); a calibrated law with bucket
    fits refuses buckets defined differently from those it was calibrated on. Errors start with `where`."""
    resolved = resolve_law(law)
    try:
        buckets = buckets_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if isinstance(resolved, CalibratedLaw):
        resolved.check_definition(data, where)
    return buckets, resolved


def buckets_to_dict(buckets: Iterable[Bucket]) -> dict[str, Any]:
    """The buckets.json document for `buckets`."""
    return {
        "buckets": [
            {"name": b.name, "docs": b.docs, "unique_tokens": b.unique_tokens, "mean_score": b.mean_score, "utility": b.utility}
            for b in buckets
        ]
    }


# ---------------------------------------------------------------------------------------------
# Allocation for fixed total tokens


def allocate(
    unique: Sequence[float] | np.ndarray,
    utility: Sequence[float] | np.ndarray,
    total: float,
    max_epochs: float | None = None,
    r_d: float | Sequence[float] | np.ndarray | None = None,
    first_epoch_premium: float = 0.0,
) -> tuple[np.ndarray, float]:
    """Exact maximiser of sum_i w_i D'_i + premium * sum_i w_i min(D_i, U_i) s.t. sum_i D_i = total.

    With premium 0 this is the D_eff maximisation of issue 5. The objective is separable and
    concave, so by KKT each bucket's marginal value equals a threshold lambda unless at a bound:
    D_i = 0 where w_i(1+premium) < lambda; D_i = U_i*min(1 + R_D ln(w_i/lambda), max_epochs) where
    w_i > lambda; buckets at a jump of their first epoch share what remains, in proportion to U_i.
    lambda is found by bisection over the sorted breakpoints of sum_i D_i(lambda), which is
    piecewise linear in ln(lambda), then solved in closed form on its segment. `r_d` is one R_D*
    or one per bucket (the closed form holds per bucket). Returns (tokens, lambda).
    Raises InfeasibleError when the buckets cannot supply `total` within `max_epochs`.
    """
    U = np.asarray(unique, dtype=np.float64)
    w = np.asarray(utility, dtype=np.float64)
    cap = np.full(U.shape, math.inf) if max_epochs is None else U * float(max_epochs)
    capacity = float(cap.sum())
    if total > capacity * (1 + 1e-12):
        raise InfeasibleError(
            f"the buckets cannot supply {total:.4g} tokens: at most {max_epochs:g} epochs of "
            f"{U.sum():.4g} unique tokens give {capacity:.4g} (raise --max-epochs, lower the compute "
            f"or fix the model size less large)"
        )
    r_d_each = np.broadcast_to(np.asarray(R_D_STAR if r_d is None else r_d, dtype=np.float64), U.shape)
    return _waterfill(U, w * (1.0 + first_epoch_premium), w, cap, float(total), r_d_each)


def _waterfill(
    U: np.ndarray, first_value: np.ndarray, rep_value: np.ndarray, cap: np.ndarray, total: float, r_d: np.ndarray
) -> tuple[np.ndarray, float]:
    """Water-filling core: first epochs are worth `first_value`, repeats `rep_value * dD'/dD`."""
    n = U.shape[0]
    tokens = np.zeros(n)
    first = np.minimum(U, cap)  # room in the first epoch
    rep_room = np.where(U > 0, np.maximum(cap - U, 0.0), 0.0)  # room for repeats (inf if uncapped)
    has_first = (first_value > 0) & (first > 0)
    has_rep = (rep_value > 0) & (rep_room > 0)
    if total <= 0:
        return tokens, float(first_value.max()) if n else 0.0
    valued = float(first[has_first].sum() + rep_room[has_rep].sum())
    if total >= valued:
        # Every valued token is used (lambda = 0); worthless room takes the rest (only with caps).
        tokens[has_first] = first[has_first]
        tokens[has_rep] += rep_room[has_rep]
        rest = total - valued
        if rest > 1e-12 * total:  # (beyond rounding)
            room = first + rep_room - tokens
            infinite = np.isinf(room)
            weights = np.where(infinite, U, 0.0) if infinite.any() else room
            if not weights.sum() > 0:
                raise InfeasibleError(f"no bucket can supply {total:.4g} tokens (no unique tokens)")
            tokens += rest * weights / weights.sum()
        return tokens, 0.0

    lf = np.log(first_value[has_first])  # ln lambda at which a first epoch enters
    F = first[has_first]
    lr = np.log(rep_value[has_rep])  # ln lambda at which repeats start
    slope_r = U[has_rep] * r_d[has_rep]  # dD_i / d(-ln lambda) while repeating
    room_r = rep_room[has_rep]
    with np.errstate(divide="ignore", invalid="ignore"):
        lcap = lr - room_r / slope_r  # ln lambda below which a bucket sits at its cap (-inf if none)

    def repeats(t: float) -> float:
        return float(np.minimum(slope_r * np.maximum(lr - t, 0.0), room_r).sum())

    def supply_excl(t: float) -> float:  # sum_i D_i at lambda = e^t, without first epochs entering at t
        return float(F[lf > t].sum()) + repeats(t)

    def supply_incl(t: float) -> float:  # ... with them (the left limit)
        return float(F[lf >= t].sum()) + repeats(t)

    breaks = np.unique(np.concatenate([lf, lr, lcap[np.isfinite(lcap)]]))
    breaks = np.append(breaks, breaks[-1] + 1.0)  # sentinel above every breakpoint: supply 0 there
    tie_fill = 0.0
    if supply_incl(float(breaks[0])) < total:
        # Below every breakpoint only uncapped repeats still grow.
        t0 = float(breaks[0])
        slope = float(slope_r[np.isinf(room_r)].sum())
        # No uncapped repeats (slope 0): every bucket is at its cap and the shortfall is the rounding
        # of total = capacity (total <= capacity was checked), so lambda stays at the lowest breakpoint.
        t_star = t0 - (total - supply_incl(t0)) / slope if slope > 0 else t0
    else:
        lo, hi = 0, breaks.shape[0] - 1  # supply_incl(breaks[lo]) >= total > supply_incl(breaks[hi])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if supply_incl(float(breaks[mid])) >= total:
                lo = mid
            else:
                hi = mid
        t_k = float(breaks[lo])
        s_k = supply_excl(t_k)
        if s_k <= total:
            t_star = t_k  # lambda sits on a first-epoch jump: those buckets share the remainder
            tie_fill = total - s_k
        else:
            t_next = float(breaks[lo + 1])
            t_mid = 0.5 * (t_k + t_next)
            slope = float(slope_r[(lcap < t_mid) & (lr > t_mid)].sum())
            t_star = min(max(t_k + (s_k - total) / slope, t_k), t_next)

    first_tokens = np.where(lf > t_star, F, 0.0)
    if tie_fill > 0:
        ties = lf == t_star
        first_tokens = first_tokens + np.where(ties, F * (tie_fill / F[ties].sum()), 0.0)
    tokens[has_first] = first_tokens
    tokens[has_rep] += np.minimum(slope_r * np.maximum(lr - t_star, 0.0), room_r)
    return tokens, math.exp(t_star)


# ---------------------------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class _Problem:
    law: Law
    names: tuple[str, ...]
    U: np.ndarray
    w: np.ndarray
    r_d: np.ndarray  # R_D* per bucket
    max_epochs: float | None
    premium_xtol: float = _PREMIUM_SEARCH_XTOL  # of the first-epoch premium's root search, in ln(1 + rho)

    @property
    def capacity(self) -> float:
        return math.inf if self.max_epochs is None else float(self.U.sum() * self.max_epochs)

    def aggregates(self, tokens: np.ndarray) -> tuple[float, float]:
        """(D_eff, U_used) = (sum_i w_i D'_i, sum_i w_i min(D_i, U_i))."""
        d_eff = float((self.w * effective_tokens(tokens, self.U, self.r_d)).sum())
        u_used = float((self.w * np.minimum(tokens, self.U)).sum())
        return d_eff, u_used

    def loss(self, params: float, tokens: np.ndarray) -> float:
        d_eff, u_used = self.aggregates(tokens)
        return self.law.loss(params, d_eff, u_used)


@dataclass(frozen=True)
class _Solution:
    params: float
    tokens: np.ndarray
    lam: float
    premium: float
    loss: float
    argmin_params: float | None = None  # set when N was chosen by the flat-ridge tie-break


def _problem(buckets: Sequence[Bucket], law_obj: Law, max_epochs: float | None) -> _Problem:
    if not buckets:
        raise ConfigError("plan: no buckets given")
    names = tuple(b.name for b in buckets)
    if len(set(names)) != len(names):
        raise ConfigError("plan: bucket names must be unique")
    U = np.array([float(b.unique_tokens) for b in buckets])
    w = np.array([float(b.utility) for b in buckets])
    if not np.all(np.isfinite(U)) or (U < 0).any() or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ConfigError("plan: unique_tokens and utility must be finite and >= 0")
    if not ((U > 0) & (w > 0)).any():
        raise InfeasibleError("plan: no bucket has both unique tokens and a positive utility")
    r_d = np.array([law_obj.r_d if b.r_d is None else float(b.r_d) for b in buckets])
    if not (np.all(np.isfinite(r_d)) and (r_d > 0).all()):
        raise ConfigError("plan: every bucket's r_d must be a positive number")
    if max_epochs is not None and not (max_epochs > 0 and math.isfinite(max_epochs)):
        raise ConfigError(f"plan: max_epochs must be a positive number, got {max_epochs}")
    return _Problem(law_obj, names, U, w, r_d, max_epochs)


def _solve_fixed_params(p: _Problem, params: float, total: float) -> _Solution:
    """Best allocation of `total` tokens for a model of `params` parameters.

    The data term depends on D_eff only, so water-filling (premium 0) is optimal whenever the
    parameter term cannot change, i.e. unless N > D_to_N(U_used). Otherwise the loss depends on
    two aggregates, D_eff and U_used = sum_i w_i min(D_i, U_i). Both are concave in the allocation
    and the loss is convex and decreasing in each (N' is concave in U_used), so the problem is
    convex and its KKT point is the optimum: it maximises D_eff + rho * U_used with
    rho = (dL/dU_used) / (dL/dD_eff), a premium on first-epoch tokens. As rho grows, U_used grows
    and D_eff shrinks, so that ratio falls: the fixed point is found by safeguarded regula falsi on
    ln(1 + rho), each step an exact water-filling. Premiums above w_max/w_min - 1 all give the same allocation.
    """
    tokens, lam = allocate(p.U, p.w, total, p.max_epochs, p.r_d)
    _, u_used = p.aggregates(tokens)
    base = _Solution(params, tokens, lam, 0.0, p.loss(params, tokens))
    if not p.law.params_depend_on_data(params, u_used):
        return base
    positive = p.w[(p.w > 0) & (p.U > 0)]
    s_max = math.log(float(positive.max() / positive.min())) * (1 + 1e-9) + 1e-12
    if s_max <= 1e-11:
        return base  # equal utilities: first epochs already come before every repeat

    def excess(s: float) -> tuple[float, np.ndarray, float]:
        """(premium the KKT conditions ask for) - (premium used), and the allocation."""
        t, lam_s = allocate(p.U, p.w, total, p.max_epochs, p.r_d, first_epoch_premium=math.expm1(s))
        return _premium_wanted(p, params, t) - math.expm1(s), t, lam_s

    h_hi, t_hi, lam_hi = excess(s_max)
    if h_hi >= 0:
        s_star, tokens_star, lam_star = s_max, t_hi, lam_hi
    else:
        h_lo = _premium_wanted(p, params, tokens)  # excess at s = 0, > 0 here: N' still grows with U_used
        s_star, tokens_star, lam_star = _root_decreasing(excess, 0.0, h_lo, s_max, h_hi, p.premium_xtol)
    loss_star = p.loss(params, tokens_star)
    if loss_star >= base.loss:
        return base
    return _Solution(params, tokens_star, lam_star, math.expm1(s_star), loss_star)


def _premium_wanted(p: _Problem, params: float, tokens: np.ndarray) -> float:
    """(dL/dU_used) / (dL/dD_eff) for an allocation: the first-epoch premium KKT asks for."""
    g_data, g_unique = p.law.loss_gradient(params, *p.aggregates(tokens))
    return g_unique / g_data


def _root_decreasing(
    h: Callable[[float], tuple[float, np.ndarray, float]], a: float, ha: float, b: float, hb: float, xtol: float
) -> tuple[float, np.ndarray, float]:
    """Root of a decreasing h on [a, b] (h(a) > 0 > h(b)) by the Illinois variant of regula falsi.

    Falls back to a bisection step whenever the bracket fails to halve in three steps, so it keeps
    bisection's guarantee on the kinked functions water-filling produces. Returns (x, payload...).
    """
    best: tuple[float, np.ndarray, float] | None = None
    side = 0
    width = b - a
    for step in range(200):
        if b - a <= xtol * max(1.0, abs(b)):
            break
        if step % 3 == 2 and b - a > 0.5 * width:
            x = 0.5 * (a + b)
            width = b - a
        else:
            x = (a * hb - b * ha) / (hb - ha)
            if not a < x < b:
                x = 0.5 * (a + b)
        hx, tokens, lam = h(x)
        best = (x, tokens, lam)
        if hx > 0:
            a, ha = x, hx
            if side == 1:
                hb *= 0.5
            side = 1
        elif hx < 0:
            b, hb = x, hx
            if side == -1:
                ha *= 0.5
            side = -1
        else:
            break
    if best is None:
        _, tokens, lam = h(0.5 * (a + b))
        best = (0.5 * (a + b), tokens, lam)
    return best


def _minimize_1d(f: Callable[[float], float], lo: float, hi: float, grid: int, xtol: float) -> tuple[float, float]:
    """Minimise f on [lo, hi]: a coarse grid finds the basin, Brent's method refines inside it."""
    xs = np.linspace(lo, hi, grid)
    fs = [f(float(x)) for x in xs]
    j = int(np.argmin(fs))
    a, b = float(xs[max(j - 1, 0)]), float(xs[min(j + 1, grid - 1)])
    x, fx = _brent(f, a, b, xtol)
    return (x, fx) if fx < fs[j] else (float(xs[j]), fs[j])


def _brent(f: Callable[[float], float], a: float, b: float, xtol: float, max_iter: int = 200) -> tuple[float, float]:
    """Brent's minimiser on [a, b]: parabolic steps with a golden-section fallback.

    After R. P. Brent, "Algorithms for Minimization without Derivatives" (1973), ch. 5.
    """
    c_gold = 1 - _GOLDEN  # 0.381966...
    x = w = v = a + c_gold * (b - a)
    fx = fw = fv = f(x)
    d = e = 0.0
    for _ in range(max_iter):
        m = 0.5 * (a + b)
        tol = xtol * max(1.0, abs(x))
        tol2 = 2 * tol
        if abs(x - m) <= tol2 - 0.5 * (b - a):
            break
        parabolic = False
        if abs(e) > tol:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2 * (q - r)
            if q > 0:
                p = -p
            q = abs(q)
            e_prev, e = e, d
            if abs(p) < abs(0.5 * q * e_prev) and q * (a - x) < p < q * (b - x):
                d = p / q
                u = x + d
                if u - a < tol2 or b - u < tol2:
                    d = tol if m >= x else -tol
                parabolic = True
        if not parabolic:
            e = (a - x) if x >= m else (b - x)
            d = c_gold * e
        u = x + d if abs(d) >= tol else x + (tol if d >= 0 else -tol)
        fu = f(u)
        if fu <= fx:
            if u >= x:
                a = x
            else:
                b = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, w = w, u
                fv, fw = fw, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x, fx


def _search_params(p: _Problem, compute: float, around: float | None = None) -> _Solution:
    """Minimise predicted loss over N along C = 6 N D (1-D search on ln N, to well under 0.1%).

    The grid starts around the fresh-data optimum and widens while the best point sits on an edge
    that is not a hard bound (too few tokens available below, fewer than one token above). With
    `around` (a bootstrap draw's replan) the search is local: see :func:`_search_near`.
    """
    log_min = math.log(compute / (6.0 * p.capacity) * (1 + 1e-9)) if math.isfinite(p.capacity) else -math.inf
    log_max = math.log(compute / 6.0)

    def loss_at(log_n: float) -> float:
        n = math.exp(log_n)
        return _solve_fixed_params(p, n, compute / (6.0 * n)).loss

    if around is not None:
        log_n, f_best = _search_near(loss_at, math.log(around), log_min, log_max)
    else:
        centre = math.log(p.law.compute_optimal_params(compute))
        lo = max(centre - math.log(1e3), log_min)
        hi = min(max(centre + math.log(1e2), lo + math.log(1e3)), log_max)
        for _ in range(10):
            xs = np.linspace(lo, hi, 17)
            fs = [loss_at(float(x)) for x in xs]
            j = int(np.argmin(fs))
            width = hi - lo
            if j == 0 and lo > log_min:
                lo = max(lo - width, log_min)
            elif j == len(xs) - 1 and hi < log_max:
                hi = min(hi + width, log_max)
            else:
                break
        a, b = float(xs[max(j - 1, 0)]), float(xs[min(j + 1, len(xs) - 1)])
        log_n, f_best = _minimize_1d(loss_at, a, b, grid=5, xtol=_N_SEARCH_XTOL)
        if fs[j] < f_best:
            log_n, f_best = float(xs[j]), fs[j]
    tied = limits.smallest_tied(loss_at, log_n, f_best, max(log_min, math.log(compute / 6.0) - 200.0))
    n = math.exp(log_n if tied is None else tied)
    sol = _solve_fixed_params(p, n, compute / (6.0 * n))
    return sol if tied is None else replace(sol, argmin_params=math.exp(log_n))


def _search_near(loss_at: Callable[[float], float], centre: float, log_min: float, log_max: float) -> tuple[float, float]:
    """A local minimum of loss_at near `centre` (ln N): a bracket of three points a factor 2 apart,
    moved while an end is lowest, then Brent's method inside it to ``_N_DRAW_XTOL``."""
    step = math.log(2.0)
    xs = [max(min(centre + k * step, log_max), log_min) for k in (-1, 0, 1)]
    fs = [loss_at(x) for x in xs]
    for _ in range(40):
        j = int(np.argmin(fs))
        if j == 1 or (j == 0 and xs[0] <= log_min) or (j == 2 and xs[2] >= log_max):
            break
        shift = -step if j == 0 else step
        x_new = max(min(xs[j] + shift, log_max), log_min)
        xs, fs = ([x_new, *xs[:2]], [loss_at(x_new), *fs[:2]]) if j == 0 else ([*xs[1:], x_new], [*fs[1:], loss_at(x_new)])
    j = int(np.argmin(fs))
    if xs[2] - xs[0] <= 0:
        return xs[j], fs[j]
    x, fx = _brent(loss_at, xs[0], xs[2], _N_DRAW_XTOL)
    return (x, fx) if fx < fs[j] else (xs[j], fs[j])


def plan_once(buckets: Sequence[Bucket], compute: float, params: float | None, max_epochs: float | None,
              law_obj: Law, around: float | None = None) -> Plan:
    """The plan under one law: the allocation and N, with the repetition warnings.

    `around` (a model size) starts the search for N there in a narrower bracket, to a looser
    tolerance: replanning under bootstrap draws, whose N moves little.
    """
    p = _problem(buckets, law_obj, max_epochs)
    if around is not None:
        p = replace(p, premium_xtol=_PREMIUM_DRAW_XTOL)
    if not (compute > 0 and math.isfinite(compute)):
        raise ConfigError(f"plan: compute must be a positive number of FLOPs, got {compute}")
    if params is not None:
        if not (params > 0 and math.isfinite(params)):
            raise ConfigError(f"plan: params must be a positive number, got {params}")
        total = compute / (6.0 * params)
        if total > p.capacity * (1 + 1e-12):
            raise InfeasibleError(
                f"plan: a {params:.4g}-parameter model trains on C/(6N) = {total:.4g} tokens, but the buckets "
                f"supply at most {p.capacity:.4g} ({p.max_epochs:g} epochs of {p.U.sum():.4g} unique tokens); "
                f"raise --max-epochs, lower --compute or use a larger --params (or leave it free)"
            )
        sol = _solve_fixed_params(p, float(params), total)
    else:
        sol = _search_params(p, float(compute), around)
    return _make_plan(p, float(compute), sol, params_fixed=params is not None)


def log_space(lo: float, hi: float, points: int) -> list[float]:
    """`points` budgets evenly spaced in log between lo and hi (inclusive)."""
    if not (0 < lo <= hi) or points < 1:
        raise ConfigError(f"compute range must satisfy 0 < lo <= hi and points >= 1, got {lo}:{hi}:{points}")
    if points == 1:
        return [float(lo)]
    return [float(x) for x in np.logspace(math.log10(lo), math.log10(hi), points)]


def _make_plan(p: _Problem, compute: float, sol: _Solution, params_fixed: bool) -> Plan:
    tokens = sol.tokens
    eff = effective_tokens(tokens, p.U, p.r_d)
    rv = repeat_value(tokens, p.U, p.r_d)
    epochs = np.divide(tokens, p.U, out=np.zeros_like(tokens), where=p.U > 0)
    rows = tuple(
        BucketPlan(
            name=p.names[i],
            unique_tokens=float(p.U[i]),
            utility=float(p.w[i]),
            tokens=float(tokens[i]),
            epochs=float(epochs[i]),
            effective_tokens=float(eff[i]),
            marginal_value=float(p.w[i] * rv[i]),
            repeat_value=float(rv[i]),
        )
        for i in range(len(p.names))
    )
    d_eff, u_used = p.aggregates(tokens)
    total = float(tokens.sum())
    return Plan(
        law=p.law.name,
        compute=compute,
        params=sol.params,
        tokens=total,
        predicted_loss=sol.loss,
        lam=sol.lam,
        buckets=rows,
        warnings=tuple(plan_warnings(rows)),
        max_epochs=p.max_epochs,
        params_fixed=params_fixed,
        effective_data=d_eff,
        unique_tokens_used=u_used,
        first_epoch_premium=sol.premium,
        extra={"n_tie_break": None if sol.argmin_params is None else
               {"tolerance": limits.TIE_TOLERANCE, "argmin_params": sol.argmin_params}},
    )


def plan_warnings(rows: Sequence[BucketPlan]) -> list[str]:
    """Warnings from the literature about heavy repetition in a plan."""
    out: list[str] = []
    total = sum(b.tokens for b in rows)
    unique_drawn = sum(min(b.tokens, b.unique_tokens) for b in rows)
    for b in rows:
        if b.epochs > EPOCHS_WARN:
            out.append(
                f"bucket '{b.name}': {b.epochs:.2f} epochs; returns diminish beyond 4 epochs "
                f"(4 epochs are still ~93% as valuable as fresh data, Muennighoff et al. 2023)"
            )
        if b.tokens > 0 and b.repeat_value < REPEAT_VALUE_WARN:
            out.append(
                f"bucket '{b.name}': a further token is worth {b.repeat_value:.3f} of a fresh one "
                f"(< {REPEAT_VALUE_WARN}, past ~36 epochs): its value is nearly exhausted"
            )
        if total > 0 and unique_drawn > 0:
            unique_share = min(b.tokens, b.unique_tokens) / unique_drawn
            train_share = b.tokens / total
            if unique_share < SMALL_SLICE_UNIQUE_SHARE and train_share > SMALL_SLICE_TRAINING_SHARE:
                out.append(
                    f"bucket '{b.name}': {unique_share:.2%} of the unique tokens drawn supply {train_share:.1%} of "
                    f"training tokens; repeating a small slice many times hurts (Hernandez et al. 2022: "
                    f"0.1% of the data repeated 100 times made an 800M model as bad as a 400M one)"
                )
    return out

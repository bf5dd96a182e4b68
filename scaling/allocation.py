"""Compute allocation: the best configuration at a budget, the cheapest one reaching a target accuracy,
per-difficulty choices and splitting a total budget over a problem set.

Best at a budget (:func:`optimal`): every converged curve competes with the largest k the budget buys
(inside its fitted range), every measured configuration without a curve with its measured point; the
highest predicted accuracy wins.  Cheapest for a target (:func:`min_flops`): on each curve, the least
FLOPs whose prediction reaches the target (grid, then bisection in log C), rounded up to whole k.
``laws.optimal(...)`` and ``laws.min_flops(...)`` call these.

Per-difficulty allocation (as Snell et al. 2024 do with difficulty bins): fit laws on curves evaluated
``by="difficulty"``; at a budget, choose the best configuration separately in every bin and compare
the problem-weighted accuracy with the best *single* configuration used for all bins.

Budget splitting: given bins with n_b problems and a total budget T (FLOPs for the whole set), choose
a budget per problem C_b in each bin to maximise ``sum_b n_b acc_b(C_b)`` subject to
``sum_b n_b C_b <= T``, where ``acc_b(C)`` is the bin's best configuration at C.  Solved by the
Lagrangian on a log grid of budgets: for a price lambda every bin picks
``argmax_C acc_b(C) - lambda C``; lambda is bisected until the budget is spent.  This is exact on the
concave hull of each bin's curve, which is the best a randomised allocation can do.

Not run as a test: ten difficulty bins of arith-sub100 take 18 minutes to fit on two busy cores
(tests/test_allocation.py checks per_difficulty on a small synthetic table instead).

>>> laws = scaling.evaluate(samples, by="difficulty").fit()       # doctest: +SKIP
>>> per_difficulty(laws, 1e14, by="difficulty")                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .registry import competes
from .results import Results, check_level

__all__ = ["Allocation", "optimal", "min_flops", "per_difficulty", "per_bin_report", "split_budget", "best_at"]

#: The configuration columns of an :class:`Allocation` (plus any by-column of the laws).
CONFIG = ("task", "model", "params", "method", "strategy", "k")


@dataclass(frozen=True)
class Allocation(Results):
    """The answer of an allocation: which configuration, how accurate (with its band), at what cost.

    ``config``: task, model, params, method, strategy, k (solutions per problem, or the search budget)
    and any by-column; ``accuracy`` the predicted (curve) or measured (point) mean accuracy with its
    ``level`` band ``ci_low``..``ci_high``; ``flops`` per problem; ``source`` 'curve' or 'point';
    ``label`` the curve's label; ``question`` what was asked.  ``conf_int(level)`` recomputes the band
    from the curve's bootstrap draws (a measured point keeps the band it was measured with).

    >>> a = Allocation({"model": "m", "method": "sample", "strategy": "majority", "k": 8}, 0.61, 0.58, 0.64,
    ...                2.0e10, "point", "m / sample / majority", "best at 2e+10 FLOPs per problem")
    >>> a.model, a.k, a.conf_int()
    ('m', 8, (0.58, 0.64))
    >>> print(a.summary())
    best at 2e+10 FLOPs per problem: m / sample / majority k=8  accuracy 0.610 [0.580, 0.640] (95% band)  2e+10 FLOPs (point)
    """

    config: dict
    accuracy: float
    ci_low: float
    ci_high: float
    flops: float
    source: str
    label: str
    question: str = ""
    level: float = 0.95
    curve: object = field(default=None, repr=False, compare=False)

    def __getattr__(self, name: str):
        # task, model, params, method, strategy, k and by-columns read from the configuration
        config = self.__dict__.get("config") or {}
        if name in config:
            return config[name]
        if name in CONFIG:
            return None
        raise AttributeError(f"Allocation has no attribute {name!r}")

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """The accuracy band (low, high) at ``level`` (default: the level it was computed at)."""
        if level is None or self.curve is None:
            return (self.ci_low, self.ci_high)
        _, lo, hi = self.curve.predict([self.flops], interval=True, level=check_level(level), warn=False)
        return (float(lo[0]), float(hi[0]))

    def to_dict(self) -> dict:
        """One flat mapping: the configuration, accuracy, ci_low, ci_high, flops, source, label."""
        return {**self.config, "accuracy": self.accuracy, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "flops": self.flops, "source": self.source, "label": self.label}

    def to_frame(self) -> pd.DataFrame:
        """:meth:`to_dict` as a one-row table."""
        return pd.DataFrame([self.to_dict()])

    def summary(self) -> str:
        band = (f" [{self.ci_low:.3f}, {self.ci_high:.3f}] ({self.level:.0%} band)"
                if np.isfinite(self.ci_low) and np.isfinite(self.ci_high) else "")
        k = f" k={self.k}" if self.k is not None else ""
        return (f"{self.question + ': ' if self.question else ''}{self.label}{k}  accuracy {self.accuracy:.3f}{band}"
                f"  {self.flops:.3g} FLOPs ({self.source})")

    def __str__(self) -> str:
        return self.summary()


def _answer(c: dict, question: str) -> Allocation:
    """An :class:`Allocation` from a candidate mapping (key columns, k, flops, accuracy, band, source, label,
    and for a curve ``_curve``, the curve itself)."""
    rest = ("accuracy", "ci_low", "ci_high", "flops", "source", "label", "_curve")
    config = {key: (v.item() if hasattr(v, "item") else v) for key, v in c.items() if key not in rest}
    return Allocation(config, float(c["accuracy"]), float(c.get("ci_low", np.nan)), float(c.get("ci_high", np.nan)),
                      float(c["flops"]), str(c["source"]), str(c.get("label", "")), question, curve=c.get("_curve"))


def _curve_at(label: str, cf, budget: float) -> dict | None:
    """The curve's configuration with the most solutions ``budget`` buys, inside its fitted range."""
    lo, hi = cf.fit_range
    cost = cf.extra.get("cost_per_k")
    if not cost or budget < lo * (1 - 1e-9):
        return None
    k = int(np.floor(budget / cost * (1 + 1e-9)))
    if k < 1:
        return None
    if k * cost > hi * 1.0001:  # no configuration beyond the curve's (observed or extrapolated) range
        k = int(np.floor(hi / cost * (1 + 1e-9)))
    acc, lo_b, hi_b = cf.predict([k * cost], interval=True, warn=False)
    return {**cf.key, "k": k, "flops": k * cost, "accuracy": float(acc[0]), "ci_low": float(lo_b[0]),
            "ci_high": float(hi_b[0]), "source": "curve", "label": label, "_curve": cf}


def _candidates(laws, budget: float, match: Mapping) -> list[dict]:
    cands = []
    sel = laws.select(**match)
    for label, cf in sel.curves.items():
        if cf.converged and competes(cf.key.get("strategy"), match):
            c = _curve_at(label, cf, budget)
            if c is not None:
                cands.append(c)
    pts = sel.points
    fitted = {lab for lab, cf in laws.curves.items() if cf.converged}
    for _, r in pts[pts.flops <= budget * (1 + 1e-9)].iterrows():
        if r["label"] in fitted or not competes(r["strategy"], match):
            continue  # that configuration is represented by its curve
        cands.append({**{c: r[c] for c in pts.columns if c != "label"}, "source": "point", "label": r["label"]})
    return cands


def optimal(laws, budget: float, **match) -> Allocation:
    """The configuration with the highest predicted accuracy at ``budget`` FLOPs per problem.

    ``match`` narrows the candidates by key (model=, method=, strategy=, task=, or a by-column).
    pass@k is an oracle (it needs the grader at test time), so it competes only when asked for with
    ``strategy="pass_at_k"``; the same holds for :func:`min_flops`.

    Returns an :class:`Allocation`: the configuration (task, model, params, method, strategy (+ by), k:
    the most solutions the budget buys), flops, accuracy with its band, source ('curve' or 'point'),
    label.  Curves are used only inside their fitted range (measured points plus per-problem
    extrapolations)."""
    cands = _candidates(laws, float(budget), match)
    if not cands:
        cheapest = laws.points.flops.min() if len(laws.points) else float("nan")
        raise ValueError(f"no configuration fits a budget of {budget:.3g} FLOPs per problem "
                         f"(the cheapest measured one costs {cheapest:.3g})")
    best = max(cands, key=lambda d: (d["accuracy"], -d["flops"]))
    return _answer(best, f"best at {budget:.3g} FLOPs per problem")


def _first_reaching(cf, target: float) -> float | None:
    """Least FLOPs inside the fitted range where the curve reaches ``target`` (None if it never does)."""
    lo, hi = cf.fit_range
    grid = np.geomspace(lo, hi, 400)
    ok = np.flatnonzero(cf.predict(grid, warn=False) >= target)
    if not len(ok):
        return None
    if ok[0] == 0:
        return float(grid[0])
    a, b = np.log(grid[ok[0] - 1]), np.log(grid[ok[0]])   # bisection in log C between grid points
    for _ in range(40):
        mid = 0.5 * (a + b)
        if cf.predict([np.exp(mid)], warn=False)[0] >= target:
            b = mid
        else:
            a = mid
    return float(np.exp(b))


def min_flops(laws, target: float, **match) -> Allocation:
    """The cheapest configuration predicted to reach accuracy ``target`` (an :class:`Allocation`).
    Raises ValueError naming the best reachable accuracy when none does."""
    best, reach = None, 0.0
    sel = laws.select(**match)
    for label, cf in sel.curves.items():
        if not cf.converged or not competes(cf.key.get("strategy"), match):
            continue
        reach = max(reach, float(cf.predict(np.geomspace(*cf.fit_range, 400), warn=False).max()))
        c = _first_reaching(cf, target)
        if c is None:
            continue
        cost = cf.extra.get("cost_per_k")
        k = int(np.ceil(c / cost * (1 - 1e-9))) if cost else None
        c = k * cost if cost else c
        acc, lo_b, hi_b = cf.predict([c], interval=True, warn=False)
        if best is None or c < best["flops"]:
            best = {**cf.key, "k": k, "flops": float(c), "accuracy": float(acc[0]), "ci_low": float(lo_b[0]),
                    "ci_high": float(hi_b[0]), "source": "curve", "label": label, "_curve": cf}
    pts = sel.points
    pts = pts[[competes(s, match) for s in pts.strategy]] if len(pts) else pts
    if len(pts):
        reach = max(reach, float(pts.accuracy.max()))
        hit = pts[pts.accuracy >= target]
        if len(hit):
            r = hit.sort_values("flops").iloc[0]
            if best is None or r.flops < best["flops"]:
                best = {**{c: r[c] for c in pts.columns}, "source": "point"}
    if best is None:
        raise ValueError(f"no configuration is predicted to reach accuracy {target:.3f} within the fitted "
                         f"ranges; the best reachable is {reach:.3f}")
    return _answer(best, f"cheapest reaching accuracy {target:.3g}")


def _bins(laws, by: str) -> list:
    vals = sorted({cf.key.get(by) for cf in laws.curves.values() if cf.key.get(by) is not None}, key=str)
    if not vals:
        raise ValueError(f"the laws have no curves split by {by!r}; fit on scaling.evaluate(..., by={by!r})")
    return vals


def best_at(laws, budget: float, **match) -> Allocation | None:
    """Best configuration at ``budget`` among the curves matching ``match``; None when none fits."""
    try:
        return laws.optimal(budget, **match)
    except ValueError:
        return None


def per_difficulty(laws, budget: float, by: str = "difficulty", weights: Mapping | None = None,
                   **match) -> pd.DataFrame:
    """Per-bin best configuration at ``budget`` versus the best single configuration for all bins.

    ``weights`` maps a bin to its share (or count) of problems; default the curves' ``n_problems``.
    Returns one row per bin (bin, chosen config, accuracy, the one-for-all config's accuracy in that
    bin) and a final row ``bin='all'`` with the weighted accuracies and ``gain`` = per-bin minus
    one-for-all.  One-for-all: the (model, method, strategy) whose weighted accuracy over bins is best,
    every bin using the same k.
    """
    bins = _bins(laws, by)
    if weights is None:
        weights = {}
        for b in bins:
            ns = [cf.n_problems for cf in laws.curves.values() if cf.key.get(by) == b]
            weights[b] = max(ns) if ns else 1
    w = np.array([float(weights.get(b, 0.0)) for b in bins])
    if w.sum() <= 0:
        raise ValueError("per_difficulty: weights sum to zero")
    w = w / w.sum()
    rows = []
    for b in bins:
        o = best_at(laws, budget, **{by: b}, **match)
        rows.append({"bin": b, "choice": None if o is None else o.label, "accuracy": np.nan if o is None
                     else o.accuracy, "k": None if o is None else o.k})
    # one configuration for all bins: same (model, method, strategy) and k in every bin
    configs = {}
    for cf in laws.curves.values():
        if cf.key.get(by) is None or not cf.converged:
            continue
        if not competes(cf.key.get("strategy"), match):
            continue
        if any(v is not None and str(cf.key.get(c)) != str(v) for c, v in match.items()):
            continue
        cfg = (cf.key.get("model"), cf.key.get("method"), cf.key.get("strategy"))
        configs.setdefault(cfg, {})[cf.key.get(by)] = cf
    best_cfg, best_acc, best_per = None, -np.inf, None
    for cfg, per in configs.items():
        if set(per) != set(bins):
            continue
        cost = float(np.dot([per[b].extra.get("cost_per_k", np.nan) for b in bins], w))  # mean cost of one k
        if not np.isfinite(cost) or cost <= 0:
            continue
        k = int(np.floor(budget / cost * (1 + 1e-9)))
        if k < 1:
            continue
        accs = []
        for b in bins:
            cf = per[b]
            f = min(k * cf.extra["cost_per_k"], cf.fit_range[1])
            accs.append(float(cf.predict([f], warn=False)[0]) if f >= cf.fit_range[0] * (1 - 1e-9) else np.nan)
        if np.isnan(accs).any():
            continue
        tot = float(np.dot(accs, w))
        if tot > best_acc:
            best_cfg, best_acc, best_per = cfg, tot, accs
    out = pd.DataFrame(rows)
    out["one_for_all_accuracy"] = best_per if best_per is not None else np.nan
    per_bin = float(np.nansum(out.accuracy.to_numpy(float) * w)) if out.accuracy.notna().all() else np.nan
    total = {"bin": "all", "choice": "per-bin", "accuracy": per_bin, "k": None,
             "one_for_all_accuracy": best_acc if best_cfg else np.nan,
             "one_for_all_choice": " / ".join(map(str, best_cfg)) if best_cfg else None,
             "gain": per_bin - best_acc if best_cfg else np.nan}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def per_bin_report(laws, by: str = "difficulty") -> str:
    """Text: at every budget decade inside the fitted ranges, the per-bin allocation (:func:`per_difficulty`)
    and its gain over the best single configuration for all bins."""
    lines = [f"per-{by} allocation (best configuration per bin vs one for all):"]
    lo = laws.points.flops.min()
    hi = max([cf.fit_range[1] for cf in laws.curves.values()] or [laws.points.flops.max()])
    for e in range(int(np.ceil(np.log10(lo))), int(np.floor(np.log10(hi))) + 1):
        try:
            tab = per_difficulty(laws, 10.0 ** e, by=by)
        except ValueError:
            continue
        tot = tab.iloc[-1]
        bins = "; ".join(f"{r.bin}: {r.choice} k={r.k} ({r.accuracy:.3f})" for r in tab.iloc[:-1].itertuples()
                         if isinstance(r.choice, str))
        gain = (f"gain {tot.gain:+.3f} over one-for-all {tot.one_for_all_choice}"
                if isinstance(tot.one_for_all_choice, str) else "no single configuration covers every bin")
        lines.append(f"  1e{e:<3d} FLOPs: per-bin {tot.accuracy:.3f}, {gain}\n      {bins}")
    return "\n".join(lines)


def split_budget(laws, total: float, counts: Mapping, by: str = "difficulty", n_grid: int = 200,
                 **match) -> pd.DataFrame:
    """Split ``total`` FLOPs over bins holding ``counts[bin]`` problems (see the module docstring).

    Returns one row per bin: bin, n_problems, budget per problem, choice, k, accuracy, and the expected
    number solved; ``attrs['total_used']`` and ``attrs['expected_accuracy']`` hold the totals.
    """
    bins = [b for b in _bins(laws, by) if counts.get(b, 0) > 0]
    missing = [b for b in counts if b not in bins and counts[b] > 0]
    if missing:
        raise ValueError(f"split_budget: no fitted curves for bin(s) {missing}")
    n = np.array([float(counts[b]) for b in bins])
    lo = min(cf.fit_range[0] for cf in laws.curves.values())
    hi = max(cf.fit_range[1] for cf in laws.curves.values())
    grid = np.geomspace(lo, hi, n_grid)
    acc = np.full((len(bins), n_grid), -np.inf)
    choice = [[None] * n_grid for _ in bins]
    for i, b in enumerate(bins):
        for j, c in enumerate(grid):
            o = best_at(laws, c, **{by: b}, **match)
            if o is not None:
                acc[i, j] = o.accuracy
                choice[i][j] = o
    if np.isneginf(acc).all(axis=1).any():
        raise ValueError("split_budget: some bin has no configuration inside the fitted ranges")
    if total < float(np.sum(n * grid[np.argmax(np.isfinite(acc), axis=1)])):
        raise ValueError(f"split_budget: {total:.3g} FLOPs cannot buy the cheapest configuration for every problem")

    def pick(lam):
        j = np.argmax(acc - lam * grid[None, :], axis=1)
        return j, float(np.sum(n * grid[j]))

    a, b_ = 0.0, 1.0 / grid[0]
    j, used = pick(a)
    if used > total:
        for _ in range(200):
            mid = 0.5 * (a + b_)
            j, used = pick(mid)
            if used > total:
                a = mid
            else:
                b_ = mid
        j, used = pick(b_)
    rows = []
    for i, bname in enumerate(bins):
        o = choice[i][j[i]]
        rows.append({"bin": bname, "n_problems": int(n[i]), "budget_per_problem": float(grid[j[i]]),
                     "choice": o.label, "k": o.k, "accuracy": float(acc[i, j[i]]),
                     "expected_solved": float(n[i] * acc[i, j[i]])})
    out = pd.DataFrame(rows)
    out.attrs["total_used"] = used
    out.attrs["expected_accuracy"] = float(out.expected_solved.sum() / n.sum())
    return out

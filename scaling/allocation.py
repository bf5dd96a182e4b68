"""Compute allocation: per-difficulty choices and splitting a total budget over a problem set.

Per-difficulty allocation (as Snell et al. 2024 do with difficulty bins): fit laws on curves evaluated
``by="difficulty"``; at a budget, choose the best configuration separately in every bin and compare
the problem-weighted accuracy with the best *single* configuration used for all bins.

Budget splitting: given bins with n_b problems and a total budget T (FLOPs for the whole set), choose
a budget per problem C_b in each bin to maximise ``sum_b n_b acc_b(C_b)`` subject to
``sum_b n_b C_b <= T``, where ``acc_b(C)`` is the bin's best configuration at C.  Solved by the
Lagrangian on a log grid of budgets: for a price lambda every bin picks
``argmax_C acc_b(C) - lambda C``; lambda is bisected until the budget is spent.  This is exact on the
concave hull of each bin's curve, which is the best a randomised allocation can do.

>>> laws = scaling.fit(scaling.evaluate(samples, by="difficulty"))   # doctest: +SKIP
>>> per_difficulty(laws, 1e14, by="difficulty")                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["per_difficulty", "split_budget", "best_at"]


def _bins(laws, by: str) -> list:
    vals = sorted({cf.key.get(by) for cf in laws.curves.values() if cf.key.get(by) is not None}, key=str)
    if not vals:
        raise ValueError(f"the laws have no curves split by {by!r}; fit on scaling.evaluate(..., by={by!r})")
    return vals


def best_at(laws, budget: float, **match) -> dict | None:
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
        rows.append({"bin": b, "choice": None if o is None else o["label"], "accuracy": np.nan if o is None
                     else o["accuracy"], "k": None if o is None else o.get("k")})
    # one configuration for all bins: same (model, method, strategy) and k in every bin
    configs = {}
    for cf in laws.curves.values():
        if cf.key.get(by) is None or not cf.converged:
            continue
        if str(cf.key.get("strategy")) == "pass_at_k" and match.get("strategy") is None:
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
                acc[i, j] = o["accuracy"]
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
                     "choice": o["label"], "k": o.get("k"), "accuracy": float(acc[i, j[i]]),
                     "expected_solved": float(n[i] * acc[i, j[i]])})
    out = pd.DataFrame(rows)
    out.attrs["total_used"] = used
    out.attrs["expected_accuracy"] = float(out.expected_solved.sum() / n.sum())
    return out

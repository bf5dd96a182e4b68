"""Pareto frontiers of accuracy against compute, and the compute-optimal model size that follows.

A configuration (model, method, strategy, k) is on the frontier when no other configuration reaches at
least its accuracy for at most its FLOPs (with one of the two strictly better).  :func:`frontier` and
:func:`size_law` work on fitted :class:`scaling.Laws` (``laws.frontier()``, ``laws.size_law()`` call them).

>>> import pandas as pd
>>> pts = pd.DataFrame({"model": ["a", "b", "c"], "flops": [1.0, 2.0, 3.0], "accuracy": [0.5, 0.4, 0.7]})
>>> pareto(pts)["model"].tolist()
['a', 'c']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .registry import competes

__all__ = ["pareto", "curve_frontier", "frontier", "size_law", "SIZE_LAW_STRATEGIES"]

#: Strategies whose curve defines the size law, in order of preference (the paper uses weighted voting).
SIZE_LAW_STRATEGIES = ("weighted_majority", "majority", "best_of_n", "pass_at_k")


def pareto(points: pd.DataFrame, x: str = "flops", y: str = "accuracy") -> pd.DataFrame:
    """Rows of ``points`` on the (min ``x``, max ``y``) Pareto frontier, sorted by ``x``.

    Ties: among rows with equal ``x`` only the most accurate can be on the frontier; a row whose
    accuracy equals a cheaper row's is dominated.  Rows with missing x or y are an error.
    """
    if points.empty:
        return points.copy()
    for col in (x, y):
        if col not in points:
            raise KeyError(f"pareto: no column {col!r}; columns: {list(points.columns)}")
        if points[col].isna().any():
            i = int(np.flatnonzero(points[col].isna().to_numpy())[0])
            raise ValueError(f"pareto: column {col!r} has a missing value (row {i})")
    df = points.sort_values([x, y], ascending=[True, False], kind="stable")
    best = -np.inf
    keep = []
    for idx, acc in zip(df.index, df[y].to_numpy(float), strict=True):
        if acc > best:
            keep.append(idx)
            best = acc
    return df.loc[keep].reset_index(drop=True)


def curve_frontier(curves: dict, budgets: np.ndarray, *, within: float = 1.0) -> pd.DataFrame:
    """The best fitted curve at each budget.

    ``curves`` maps a label to a :class:`scaling.curves.CurveFit`.  A curve competes at budget C only
    when it converged and C lies inside its fitted range widened by the factor ``within`` on each side
    (``within=1``: no extrapolation).  Returns budget, label, the curve's key columns, accuracy,
    ci_low, ci_high (bootstrap band), one row per budget (NaN where no curve competes).
    """
    budgets = np.asarray(budgets, float)
    rows = []
    for c in budgets:
        best = None
        for label, cf in curves.items():
            if not cf.converged:
                continue
            lo, hi = cf.fit_range if hasattr(cf, "fit_range") else cf.flops_range
            if not (lo / within <= c <= hi * within):
                continue
            acc = float(cf.predict([c], warn=False)[0])
            if best is None or acc > best[1]:
                best = (label, acc, cf)
        if best is None:
            rows.append({"budget": c, "label": None, "accuracy": np.nan, "ci_low": np.nan, "ci_high": np.nan})
            continue
        label, acc, cf = best
        _, lo_b, hi_b = cf.predict([c], interval=True, warn=False)
        rows.append({"budget": c, "label": label, **{k: v for k, v in cf.key.items()}, "accuracy": acc,
                     "ci_low": float(lo_b[0]), "ci_high": float(hi_b[0])})
    return pd.DataFrame(rows)


def frontier(laws, source: str = "points", budgets: Sequence[float] | None = None, **match) -> pd.DataFrame:
    """Pareto frontier of ``laws``: from the measured ``points`` (model, params, method, strategy, k, flops,
    accuracy ...) or from the fitted ``curves`` on a grid of ``budgets`` (best curve per budget, see
    :func:`curve_frontier`).  ``match`` narrows by key; pass@k is left out unless asked for by name."""
    if source == "points":
        pts = laws.points_matching(**match)
        pts = pts[[competes(s, match) for s in pts.strategy]] if len(pts) else pts
        return pareto(pts)
    if source != "curves":
        raise ValueError(f"source must be 'points' or 'curves', got {source!r}")
    curves = {lab: cf for lab, cf in laws.select_curves(**match) if competes(cf.key.get("strategy"), match)}
    if budgets is None:
        lo = min((cf.flops_range[0] for cf in curves.values()), default=1.0)
        hi = max((cf.fit_range[1] for cf in curves.values()), default=10.0)
        budgets = np.geomspace(lo, hi, 40)
    return curve_frontier(curves, np.asarray(budgets, float))


def _uncensored(fr: pd.DataFrame) -> pd.DataFrame:
    """Budgets where the smallest or the largest size wins are censored (a smaller / larger model might
    win there): keep only the last budget won by the smallest and the first won by the largest."""
    p = fr["params"].to_numpy(float)
    lo_n, hi_n = p.min(), p.max()
    keep = (p > lo_n) & (p < hi_n)
    if (p == lo_n).any():
        keep[np.flatnonzero(p == lo_n)[-1]] = True
    if (p == hi_n).any():
        keep[np.flatnonzero(p == hi_n)[0]] = True
    return fr[keep]


def size_law(laws, strategy: str | None = None, method: str = "sample", task: str | None = None,
             n_budgets: int = 60, level: float = 0.95) -> dict | None:
    """Compute-optimal model size from fitted curves.

    For each budget C on a log grid over the curves' range, the size N whose fitted curve is best
    (:func:`curve_frontier`; censored ends dropped, see :func:`_uncensored`); then the OLS regression
    ``log10 C = slope * log10 N + intercept`` (the paper: 1.19, 2.03 on Pythia/GSM8K), also stated as
    ``N_opt = coefficient * C^exponent`` with ``exponent = 1/slope``.  ``strategy`` defaults to the first
    of :data:`SIZE_LAW_STRATEGIES` with converged curves of at least three sizes.  Returns None when
    fewer than three sizes are ever optimal.

    Returns a dict: strategy, method, slope, intercept, slope_ci, intercept_ci, exponent, coefficient,
    n_budgets, r2, optimal (budget, model, params, accuracy per budget used).
    """
    import warnings

    import statsmodels.api as sm

    for s in [strategy] if strategy else list(SIZE_LAW_STRATEGIES):
        cs = {lab: cf for lab, cf in laws.select_curves(strategy=s, method=method, task=task) if cf.converged}
        if len({cf.key.get("params") for cf in cs.values()}) >= 3:
            break
    else:
        return None
    lo = min(cf.flops_range[0] for cf in cs.values())
    hi = max(cf.fit_range[1] for cf in cs.values())
    fr = curve_frontier(cs, np.geomspace(lo, hi, n_budgets)).dropna(subset=["accuracy"]).reset_index(drop=True)
    if fr["params"].nunique() < 3:
        return None  # two sizes give one crossover: no line can be fitted
    fr = _uncensored(fr)
    x = np.log10(fr["params"].to_numpy(float))
    y = np.log10(fr["budget"].to_numpy(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sm.OLS(y, sm.add_constant(x)).fit()
        ci = res.conf_int(alpha=1 - level) if res.df_resid > 0 else np.full((2, 2), np.nan)
    slope, icpt = float(res.params[1]), float(res.params[0])
    return {"strategy": s, "method": method, "slope": slope, "intercept": icpt,
            "slope_ci": [float(ci[1, 0]), float(ci[1, 1])], "intercept_ci": [float(ci[0, 0]), float(ci[0, 1])],
            "exponent": 1.0 / slope if slope else float("nan"),
            "coefficient": 10 ** (-icpt / slope) if slope else float("nan"), "n_budgets": int(len(fr)),
            "r2": float(res.rsquared), "optimal": fr[["budget", "model", "params", "accuracy"]].to_dict(orient="list")}

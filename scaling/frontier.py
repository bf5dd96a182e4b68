"""Pareto frontiers of accuracy against compute.

A configuration (model, method, strategy, k) is on the frontier when no other configuration reaches at
least its accuracy for at most its FLOPs (with one of the two strictly better).

>>> import pandas as pd
>>> pts = pd.DataFrame({"model": ["a", "b", "c"], "flops": [1.0, 2.0, 3.0], "accuracy": [0.5, 0.4, 0.7]})
>>> pareto(pts)["model"].tolist()
['a', 'c']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["pareto", "curve_frontier"]


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
        lo_b, hi_b = cf.band([c])
        rows.append({"budget": c, "label": label, **{k: v for k, v in cf.key.items()}, "accuracy": acc,
                     "ci_low": float(lo_b[0]), "ci_high": float(hi_b[0])})
    return pd.DataFrame(rows)

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

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .registry import competes
from .results import Results, check_level

__all__ = ["pareto", "curve_frontier", "frontier", "size_law", "SizeLaw", "SIZE_LAW_STRATEGIES"]

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
        pts = laws.select(**match).points
        pts = pts[[competes(s, match) for s in pts.strategy]] if len(pts) else pts
        return pareto(pts)
    if source != "curves":
        raise ValueError(f"source must be 'points' or 'curves', got {source!r}")
    curves = {lab: cf for lab, cf in laws.select(**match).curves.items() if competes(cf.key.get("strategy"), match)}
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


class SizeLaw(Results):
    """The compute-optimal model size against budget: ``log10 C = slope * log10 N + intercept`` (OLS over
    the budgets where a size is optimal), i.e. ``N_opt = coefficient * C^exponent``.

    Attributes: strategy, method, slope, intercept, slope_ci, intercept_ci (at ``level``), exponent
    (``1 / slope``), coefficient, n_budgets, r2 and ``optimal`` (the winning size per budget used).
    ``predict(budget, interval=True)`` inverts the line: N_opt with the set of sizes whose fitted mean
    ``log10 C`` band (at ``level``) contains the budget (an inverse-regression interval).

    >>> import pandas as pd
    >>> opt = pd.DataFrame({"budget": [1e10, 1e11, 1e12, 1e13], "model": list("abcd"),
    ...                     "params": [1e6, 2.1e6, 3.9e6, 8.2e6], "accuracy": [0.3, 0.4, 0.5, 0.6]})
    >>> law = SizeLaw.fit(opt, strategy="majority", method="sample")
    >>> round(law.exponent, 2), round(float(law.predict(1e11)) / 1e6, 2)
    (0.3, 2.02)
    """

    def __init__(self, optimal: pd.DataFrame, strategy: str, method: str, res, level: float = 0.95):
        self.optimal = optimal.reset_index(drop=True)
        self.strategy, self.method, self.level = strategy, method, check_level(level)
        self._res = res
        ci = self._ci(self.level)
        self.slope, self.intercept = float(res.params[1]), float(res.params[0])
        self.slope_ci, self.intercept_ci = [float(ci[1, 0]), float(ci[1, 1])], [float(ci[0, 0]), float(ci[0, 1])]
        self.exponent = 1.0 / self.slope if self.slope else float("nan")
        self.coefficient = 10 ** (-self.intercept / self.slope) if self.slope else float("nan")
        self.n_budgets, self.r2 = int(len(self.optimal)), float(res.rsquared)

    @classmethod
    def fit(cls, optimal: pd.DataFrame, strategy: str, method: str, level: float = 0.95) -> SizeLaw:
        """OLS of ``log10 budget`` on ``log10 params`` over the rows of ``optimal`` (budget, params, ...)."""
        import statsmodels.api as sm

        x = np.log10(optimal["params"].to_numpy(float))
        y = np.log10(optimal["budget"].to_numpy(float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = sm.OLS(y, sm.add_constant(x)).fit()
        return cls(optimal, strategy, method, res, level)

    def _ci(self, level: float) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return self._res.conf_int(alpha=1 - level) if self._res.df_resid > 0 else np.full((2, 2), np.nan)

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Intervals of slope, intercept and exponent at ``level`` (default: the fitted one)."""
        ci = self._ci(self.level if level is None else check_level(level))
        with np.errstate(divide="ignore", invalid="ignore"):
            exp = sorted(1.0 / ci[1]) if np.all(np.isfinite(ci[1])) and ci[1, 0] > 0 else [np.nan, np.nan]
        return pd.DataFrame({"param": ["slope", "intercept", "exponent"],
                             "estimate": [self.slope, self.intercept, self.exponent],
                             "ci_low": [ci[1, 0], ci[0, 0], exp[0]], "ci_high": [ci[1, 1], ci[0, 1], exp[1]]})

    def predict(self, budget, *, interval: bool = False, level: float | None = None):
        """Compute-optimal size N_opt at ``budget`` FLOPs per problem (float or array); with
        ``interval=True`` also the low and high ends of the inverse-regression interval at ``level``."""
        scalar = np.ndim(budget) == 0
        y0 = np.log10(np.atleast_1d(np.asarray(budget, float)))
        n = 10 ** ((y0 - self.intercept) / self.slope)
        if not interval:
            return float(n[0]) if scalar else n
        lv = self.level if level is None else check_level(level)
        x = np.log10(self.optimal["params"].to_numpy(float))
        grid = np.linspace(x.min() - 2, x.max() + 2, 2001)
        band = np.asarray(self._res.get_prediction(np.column_stack([np.ones_like(grid), grid])).conf_int(alpha=1 - lv))
        lo, hi = np.empty_like(n), np.empty_like(n)
        for i, y in enumerate(y0):
            inside = grid[(band[:, 0] <= y) & (y <= band[:, 1])]
            lo[i], hi[i] = (10 ** inside.min(), 10 ** inside.max()) if len(inside) else (np.nan, np.nan)
        return (float(n[0]), float(lo[0]), float(hi[0])) if scalar else (n, lo, hi)

    def to_dict(self) -> dict:
        return {"strategy": self.strategy, "method": self.method, "slope": self.slope, "intercept": self.intercept,
                "slope_ci": self.slope_ci, "intercept_ci": self.intercept_ci, "exponent": self.exponent,
                "coefficient": self.coefficient, "n_budgets": self.n_budgets, "r2": self.r2,
                "optimal": self.optimal[["budget", "model", "params", "accuracy"]].to_dict(orient="list")}

    def to_frame(self) -> pd.DataFrame:
        """The winning size per budget used by the fit."""
        return self.optimal[["budget", "model", "params", "accuracy"]].copy()

    def summary(self) -> str:
        return (f"size law ({self.strategy}, {self.method}): log10 C = {self.slope:.2f} log10 N {self.intercept:+.2f}  "
                f"(slope {self.level:.0%} CI {self.slope_ci[0]:.2f}..{self.slope_ci[1]:.2f}, R^2 {self.r2:.2f}, "
                f"{self.n_budgets} budgets);  N_opt = {self.coefficient:.3g} * C^{self.exponent:.2f}")

    def __repr__(self) -> str:
        return f"SizeLaw({self.strategy}, {self.method}: N_opt = {self.coefficient:.3g} * C^{self.exponent:.2f})"


def size_law(laws, strategy: str | None = None, method: str = "sample", task: str | None = None,
             n_budgets: int = 60, level: float = 0.95) -> SizeLaw | None:
    """Compute-optimal model size from fitted curves.

    For each budget C on a log grid over the curves' range, the size N whose fitted curve is best
    (:func:`curve_frontier`; censored ends dropped, see :func:`_uncensored`); then the OLS regression
    ``log10 C = slope * log10 N + intercept`` (the paper: 1.19, 2.03 on Pythia/GSM8K), also stated as
    ``N_opt = coefficient * C^exponent`` with ``exponent = 1/slope``.  ``strategy`` defaults to the first
    of :data:`SIZE_LAW_STRATEGIES` with converged curves of at least three sizes.  Returns a
    :class:`SizeLaw`, or None when fewer than three sizes are ever optimal.
    """
    for s in [strategy] if strategy else list(SIZE_LAW_STRATEGIES):
        cs = {lab: cf for lab, cf in laws.select(strategy=s, method=method, task=task).curves.items() if cf.converged}
        if len({cf.key.get("params") for cf in cs.values()}) >= 3:
            break
    else:
        return None
    lo = min(cf.flops_range[0] for cf in cs.values())
    hi = max(cf.fit_range[1] for cf in cs.values())
    fr = curve_frontier(cs, np.geomspace(lo, hi, n_budgets)).dropna(subset=["accuracy"]).reset_index(drop=True)
    if fr["params"].nunique() < 3:
        return None  # two sizes give one crossover: no line can be fitted
    return SizeLaw.fit(_uncensored(fr), s, method, level)

"""Saturation curves of accuracy against inference FLOPs, fitted robustly, chosen by extrapolation.

Families (C = expected FLOPs per problem, c = C / C_ref with C_ref the curve's cheapest point):

``power_floor``        error with a floor: ``1 - acc = E_inf + A * c^-alpha``  (E_inf in [0, 1]);
``power_floor_limit``  the same with ``E_inf = 1 - limit`` fixed at the plug-in voting ceiling of
                       Theorems 1/2 (:func:`scaling.limits`), for majority and weighted voting;
``logistic``           a logistic in log10 C: ``acc = h / (1 + exp(-s (log10 C - m)))``;
``monkeys``            coverage's exponentiated power law (Brown et al. 2024, Large Language Monkeys):
                       ``-log acc = a * c^-b``, i.e. ``acc = exp(-a c^-b)`` (pass@k only).

Fitting: Huber loss (threshold 1.345 standard errors) on residuals ``(f(C) - acc) / se`` with ``se``
the binomial standard error ``sqrt(acc (1 - acc) / P)`` (floored at ``0.5 / P``), or the one passed in;
box bounds; a multi-start grid scored in one vectorised pass, the best few refined by
``scipy.optimize.least_squares``.  A fit is flagged ``converged=False`` when the optimiser fails, a
shape parameter sits on its bound, or there are no more points than parameters; such fits are
reported everywhere and never used for prediction without a warning.

Choice of family: each candidate is fitted to the cheaper points and scored on the most expensive
quarter (at least one point); the smallest held-out RMSE wins, AIC breaks near-ties (within 0.002).
The winner is refitted on every point.

Uncertainty: bootstrap over problems.  Given a (points x problems) matrix of per-problem accuracies
(and FLOPs), each replicate reweights the problems by multinomial counts, recomputes every point and
refits (warm-started at the full fit).  Bands and parameter intervals are percentiles of the draws.

>>> import numpy as np
>>> C = np.geomspace(1e12, 1e15, 8)
>>> acc = 1 - (0.3 + 0.4 * (C / 1e12) ** -0.5)
>>> fit = fit_curve(C, acc, n_problems=500, families=["power_floor"])
>>> round(fit.params["E_inf"], 3), round(fit.params["alpha"], 3)
(0.3, 0.5)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from .bootstrap import problem_weights
from .registry import VOTING_STRATEGIES
from .results import Results, check_level

__all__ = ["FAMILIES", "Family", "CurveFit", "fit_curve", "binomial_se", "ExtrapolationWarning"]

HUBER_DELTA = 1.345


class ExtrapolationWarning(UserWarning):
    """A prediction far outside the compute range a curve was fitted on, or from an unconverged fit."""


def _power_floor(p, logc, log10C, fixed):
    e_inf, a, alpha = p
    return 1.0 - e_inf - a * np.exp(-alpha * logc)


def _power_floor_limit(p, logc, log10C, fixed):
    a, alpha = p
    return fixed["limit"] - a * np.exp(-alpha * logc)


def _logistic(p, logc, log10C, fixed):
    h, s, m = p
    return h / (1.0 + np.exp(-s * (log10C - m)))


def _monkeys(p, logc, log10C, fixed):
    a, b = p
    return np.exp(-a * np.exp(-b * logc))


@dataclass(frozen=True)
class Family:
    """A curve family: its formula (the one place it is written), parameters, bounds, start grid, and
    asymptote as C grows.  ``formula(p, logc, log10C, fixed)`` takes a list of parameter arrays and
    broadcasts: columns (S, 1) against points (1, n) or (S, n)."""

    name: str
    params: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    grid: tuple[tuple[float, ...], ...]
    shape_params: tuple[str, ...]
    formula: Callable = field(repr=False, compare=False)
    limit: Callable = field(repr=False, compare=False)   # (params dict, fixed) -> asymptote
    text: str = ""   # the formula for people (c = C / C_ref)

    def f(self, p: np.ndarray, logc: np.ndarray, log10C: np.ndarray, fixed: dict) -> np.ndarray:
        """Accuracy for parameter rows p (S, k) at points: (n,) -> (S, n); (S, n) points per row also work."""
        cols = [p[:, j:j + 1] for j in range(p.shape[1])]
        logc, log10C = np.atleast_2d(logc), np.atleast_2d(log10C)
        with np.errstate(all="ignore"):
            return self.formula(cols, logc, log10C, fixed)

    def asymptote(self, params: dict, fixed: dict) -> float:
        return self.limit(params, fixed)


FAMILIES: dict[str, Family] = {
    "power_floor": Family("power_floor", ("E_inf", "A", "alpha"), (0.0, 0.0, 1e-3), (1.0, 2.0, 5.0),
                          ((0.0, 0.2, 0.5, 0.8), (0.05, 0.2, 0.6), (0.05, 0.2, 0.5, 1.0, 2.0)), ("alpha",),
                          _power_floor, lambda p, fx: 1.0 - p["E_inf"], "1 - acc = E_inf + A c^-alpha"),
    "power_floor_limit": Family("power_floor_limit", ("A", "alpha"), (0.0, 1e-3), (2.0, 5.0),
                                ((0.05, 0.2, 0.6), (0.05, 0.2, 0.5, 1.0, 2.0)), ("alpha",),
                                _power_floor_limit, lambda p, fx: float(fx["limit"]),
                                "1 - acc = (1 - limit) + A c^-alpha"),
    "logistic": Family("logistic", ("h", "s", "m"), (0.0, 0.01, -np.inf), (1.0, 20.0, np.inf),
                       ((0.3, 0.6, 0.9, 1.0), (0.3, 1.0, 3.0), (-1.0, 0.0, 1.0, 2.0)), ("s",),
                       _logistic, lambda p, fx: p["h"], "acc = h / (1 + exp(-s (log10 C - m)))"),
    "monkeys": Family("monkeys", ("a", "b"), (0.0, 1e-3), (50.0, 5.0),
                      ((0.1, 0.5, 1.0, 3.0), (0.05, 0.2, 0.5, 1.0)), ("b",), _monkeys, lambda p, fx: 1.0,
                      "acc = exp(-a c^-b)"),
}


def binomial_se(acc: np.ndarray, n_problems: int | np.ndarray) -> np.ndarray:
    """sqrt(acc (1 - acc) / P), floored at 0.5 / P (so perfect or zero accuracy still has weight)."""
    acc = np.clip(np.asarray(acc, float), 0, 1)
    n = np.asarray(n_problems, float)
    return np.maximum(np.sqrt(acc * (1 - acc) / n), 0.5 / n)


@dataclass
class _Fit:
    family: str
    params: dict
    x: np.ndarray
    cost: float
    converged: bool
    message: str
    aic: float


def _design(flops: np.ndarray, c_ref: float):
    return np.log(flops / c_ref), np.log10(flops)


def _fit_family(fam: Family, flops, acc, se, c_ref, fixed, x0=None, refine: int = 3) -> _Fit:
    logc, l10 = _design(flops, c_ref)
    lo = np.array(fam.lower, float)
    hi = np.array(fam.upper, float)
    if fam.name == "logistic":  # centre the midpoint grid on the data
        mid = np.median(l10)
        span = max(np.ptp(l10), 1.0)
        lo[2], hi[2] = l10.min() - 3 * span, l10.max() + 3 * span
        grid = [np.array(fam.grid[0]), np.array(fam.grid[1]), mid + span * np.array(fam.grid[2])]
    else:
        grid = [np.array(g) for g in fam.grid]
    n, k = len(acc), len(fam.params)

    def resid_mat(p):
        return (fam.f(p, logc, l10, fixed) - acc[None, :]) / se[None, :]

    def huber(r):
        a = np.abs(r)
        return np.where(a <= HUBER_DELTA, 0.5 * r ** 2, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))

    if x0 is None:
        mesh = np.stack(np.meshgrid(*grid, indexing="ij"), axis=-1).reshape(-1, k)
        score = huber(np.nan_to_num(resid_mat(mesh), nan=1e6)).sum(axis=1)
        top = mesh[np.argsort(score)[:2 * refine]]
        # vectorised Levenberg-Marquardt from the best grid points, then one trust-region polish
        B = len(top)
        pb = _fit_batch(fam, np.tile(flops, (B, 1)), np.tile(acc, (B, 1)), np.tile(se, (B, 1)), c_ref, fixed,
                        top, iters=30)
        pb = np.where(np.isfinite(pb), pb, top)
        sc = huber(np.nan_to_num(resid_mat(pb), nan=1e6)).sum(axis=1)
        starts = pb[np.argsort(sc)[:1]]
    else:
        starts = np.atleast_2d(x0)
    best = None
    for s in starts:
        s = np.clip(s, lo + 1e-9 * (np.abs(lo) + 1), np.where(np.isfinite(hi), hi - 1e-9 * (np.abs(hi) + 1), hi))
        try:
            res = optimize.least_squares(lambda p: np.nan_to_num(resid_mat(p[None, :])[0], nan=1e6), s,
                                         bounds=(lo, hi), loss="huber", f_scale=HUBER_DELTA, method="trf",
                                         max_nfev=300 if x0 is None else 100)
        except ValueError:
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return _Fit(fam.name, {p: np.nan for p in fam.params}, np.full(k, np.nan), np.inf, False,
                    "every local fit failed", np.inf)
    params = dict(zip(fam.params, map(float, best.x), strict=True))
    ok = best.status > 0 and np.all(np.isfinite(best.x))
    msg = "ok" if ok else best.message
    for j, name in enumerate(fam.params):
        if name in fam.shape_params:
            span = hi[j] - lo[j] if np.isfinite(hi[j] - lo[j]) else 1.0
            if best.x[j] <= lo[j] + 1e-6 * span or best.x[j] >= hi[j] - 1e-6 * span:
                ok = False
                msg = f"{name} on its bound ({best.x[j]:.3g})"
    if n <= k:
        ok = False
        msg = f"{n} point(s) for {k} parameters"
    r = best.fun
    rss = float(np.sum(r ** 2))
    aic = n * np.log(max(rss, 1e-12) / n) + 2 * k if n > 0 else np.inf
    return _Fit(fam.name, params, best.x, float(best.cost), bool(ok), msg, float(aic))


def _fit_batch(fam: Family, flops: np.ndarray, acc: np.ndarray, se: np.ndarray, c_ref: float, fixed: dict,
               x0: np.ndarray, iters: int = 40) -> np.ndarray:
    """Fit many replicates at once (rows of flops/acc/se, shape (B, n)) from one start ``x0``:
    Levenberg-Marquardt with Huber weights (IRLS), finite-difference Jacobians and box clipping, all
    vectorised over replicates.  Returns (B, k) parameters (NaN where a replicate failed)."""
    B, n = acc.shape
    lo = np.array(fam.lower, float)
    hi = np.array(fam.upper, float)
    if fam.name == "logistic":
        lo[2], hi[2] = -np.inf, np.inf
    logc = np.log(flops / c_ref)
    l10 = np.log10(flops)

    def f(p):  # (B, k) -> (B, n), one parameter row per replicate
        return fam.f(p, logc, l10, fixed)

    def cost_and_w(p):
        r = (f(p) - acc) / se
        r = np.nan_to_num(r, nan=1e6)
        a = np.abs(r)
        c = np.where(a <= HUBER_DELTA, 0.5 * r ** 2, HUBER_DELTA * (a - 0.5 * HUBER_DELTA)).sum(axis=1)
        w = np.where(a <= HUBER_DELTA, 1.0, HUBER_DELTA / np.maximum(a, 1e-12))
        return r, c, w

    x0 = np.asarray(x0, float)
    p = np.tile(x0, (B, 1)) if x0.ndim == 1 else x0.copy()
    k = p.shape[1]
    lam = np.full(B, 1e-2)
    r, cost, w = cost_and_w(p)
    eps = 1e-6 * np.maximum(np.abs(p), 1e-3)
    for _ in range(iters):
        J = np.empty((B, n, k))
        for j in range(k):
            pj = p.copy()
            pj[:, j] += eps[:, j]
            J[:, :, j] = (np.nan_to_num((f(pj) - acc) / se, nan=1e6) - r) / eps[:, j:j + 1]
        Jw = J * w[:, :, None]
        g = np.einsum("bnk,bn->bk", Jw, r)
        Hm = np.einsum("bnk,bnl->bkl", Jw, J)
        diag = np.einsum("bkk->bk", Hm)
        A = Hm + lam[:, None, None] * (np.eye(k)[None] * np.maximum(diag, 1e-12)[:, :, None])
        try:
            step = -np.linalg.solve(A, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            break
        cand = np.clip(p + np.nan_to_num(step), lo, hi)
        r2, c2, w2 = cost_and_w(cand)
        better = c2 < cost
        p = np.where(better[:, None], cand, p)
        r = np.where(better[:, None], r2, r)
        w = np.where(better[:, None], w2, w)
        rel = (cost - c2) / np.maximum(cost, 1e-12)
        cost = np.where(better, c2, cost)
        lam = np.where(better, lam * 0.3, lam * 10.0)
        if np.all(~better & (lam > 1e6)) or np.all(np.abs(rel) < 1e-10):
            break
    p[~np.isfinite(cost)] = np.nan
    return p


@dataclass(repr=False)
class CurveFit(Results):
    """A fitted saturation curve for one (task, model, method, strategy) with its bootstrap draws.

    The vocabulary of :class:`scaling.fitlaw.LawFit`: ``predict(flops, interval=True)``, ``conf_int()``,
    ``summary()``; plus ``asymptote()`` and ``asymptote_interval()``."""

    key: dict
    family: str
    params: dict
    converged: bool
    message: str
    c_ref: float
    fixed: dict
    flops_range: tuple[float, float]
    points: pd.DataFrame  # flops, accuracy, se, source ("observed" / "extrapolated")
    selection: pd.DataFrame  # family, heldout_rmse, aic, converged, message
    draws: np.ndarray | None = None
    limit: float | None = None
    n_problems: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def fit_range(self) -> tuple[float, float]:
        """FLOPs range of every point fitted, per-problem extrapolations included."""
        f = self.points["flops"].to_numpy(float)
        return (float(f.min()), float(f.max()))

    @property
    def label(self) -> str:
        k = self.key
        return " / ".join(str(k[c]) for c in ("model", "method", "strategy") if c in k)

    def _f(self, p: np.ndarray, flops: np.ndarray) -> np.ndarray:
        fam = FAMILIES[self.family]
        logc, l10 = _design(flops, self.c_ref)
        return fam.f(p, logc, l10, self.fixed)

    def predict(self, flops, *, interval: bool = False, level: float = 0.95, warn: bool = True):
        """Fitted accuracy at the given FLOPs per problem (array in, array out).

        ``interval=True`` returns (accuracy, low, high): the percentile bootstrap band over problems at
        ``level`` (NaN without draws).  Warns (:class:`ExtrapolationWarning`) more than 10x outside the
        fitted range and for an unconverged fit, unless ``warn=False``."""
        flops = np.atleast_1d(np.asarray(flops, float))
        if warn:
            self._warn(flops)
        p = np.array([[self.params[n] for n in FAMILIES[self.family].params]])
        acc = self._through_model(flops, lambda f: np.clip(self._f(p, f)[0], 0.0, 1.0), "accuracy")
        if not interval:
            return acc
        if self.draws is None or len(self.draws) < 2:
            return (acc, *(self._through_model(flops, lambda f: np.full(len(f), np.nan), c)
                           for c in ("ci_low", "ci_high")))
        fam = FAMILIES[self.family]
        a = (1 - level) / 2

        def band(q):
            return lambda f: np.nanquantile(np.clip(fam.f(self.draws, *_design(f, self.c_ref), self._draw_fixed()),
                                                    0, 1), q, axis=0)
        return acc, self._through_model(flops, band(a), "ci_low"), self._through_model(flops, band(1 - a), "ci_high")

    def _through_model(self, flops: np.ndarray, base, column: str) -> np.ndarray:
        """``base(flops)`` (the fitted curve or its band) moved, beyond the measured FLOPs, onto the
        per-problem model's predictions (``extra['model_points']``: flops, accuracy, ci_low, ci_high).

        At each model point the curve's own value is replaced by the model's; in between, the offset is
        interpolated linearly in log FLOPs from 0 at the largest measured point; beyond the last model
        point it stays at its last value.  So ``predict`` at a k the model was asked for (e.g. a horizon
        ``scaling.evaluate(..., extrapolate_to=K)``) returns the model's own answer, with its interval."""
        out = base(flops)
        mp = self.extra.get("model_points")
        if not mp:
            return out
        x = np.log(np.asarray(mp["flops"], float))
        val = np.asarray(mp[column], float)
        edge = np.log(self.flops_range[1])
        keep = (x > edge) & np.isfinite(val)
        if not keep.any():
            return out
        at = base(np.exp(x[keep]))
        lx = np.log(flops)
        beyond = lx > edge
        if np.isfinite(at).all():
            off = np.interp(lx, np.concatenate([[edge], x[keep]]), np.concatenate([[0.0], val[keep] - at]))
            moved = out + off
        else:  # no band to move: the model's own interval, interpolated between its points
            moved = np.where(lx >= x[keep][0], np.interp(lx, x[keep], val[keep]), np.nan)
        return np.clip(np.where(beyond, moved, out), 0.0, 1.0)

    def _draw_fixed(self) -> dict:
        """Fixed values per bootstrap draw: the plug-in limit is resampled with the problems."""
        ld = self.extra.get("limit_draws")
        if self.family == "power_floor_limit" and ld is not None and len(ld) == len(self.draws):
            return {"limit": np.asarray(ld, float)[:, None]}
        return self.fixed

    def asymptote(self) -> float:
        return float(FAMILIES[self.family].asymptote(self.params, self.fixed))

    def asymptote_interval(self, level: float = 0.95) -> tuple[float, float]:
        if self.draws is None or len(self.draws) < 2:
            return (np.nan, np.nan)
        fam = FAMILIES[self.family]
        fx = self._draw_fixed()
        lims = np.broadcast_to(np.asarray(fx.get("limit", np.nan), float).ravel(), (len(self.draws),)) \
            if "limit" in fx else [np.nan] * len(self.draws)
        vals = np.array([fam.asymptote(dict(zip(fam.params, d, strict=True)), {"limit": lim})
                         for d, lim in zip(self.draws, lims, strict=True)])
        a = (1 - level) / 2
        return tuple(np.nanquantile(vals, [a, 1 - a]))

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile bootstrap intervals per parameter (columns estimate, ci_low, ci_high, method; NaN and
        method 'none' without draws), as :meth:`scaling.fitlaw.LawFit.conf_int`."""
        a = (1 - check_level(level)) / 2
        rows = []
        for j, n in enumerate(FAMILIES[self.family].params):
            boot = self.draws is not None and len(self.draws) > 1
            lo, hi = np.nanquantile(self.draws[:, j], [a, 1 - a]) if boot else (np.nan, np.nan)
            rows.append({"param": n, "estimate": self.params[n], "ci_low": float(lo), "ci_high": float(hi),
                         "method": "bootstrap" if boot else "none"})
        return pd.DataFrame(rows).set_index("param")

    def to_frame(self) -> pd.DataFrame:
        """The parameters with their intervals (:meth:`conf_int` at 95 %), one row each, led by the label."""
        return self.conf_int().reset_index().assign(label=self.label)[
            ["label", "param", "estimate", "ci_low", "ci_high", "method"]]

    def summary(self) -> str:
        """The fit as text: family and formula, convergence, parameters with intervals, asymptote beside
        the plug-in limit, data ranges and the held-out choice of family."""
        fam = FAMILIES[self.family]
        lo, hi = self.asymptote_interval()
        n_obs = int((self.points.source == "observed").sum())
        lines = [f"Curve fit: {self.label}: {self.family}, {fam.text} (c = C / {self.c_ref:.4g} FLOPs per problem)",
                 f"  {n_obs} measured + {len(self.points) - n_obs} extrapolated points, {self.n_problems} problems; "
                 f"converged: {'yes' if self.converged else 'NO'} ({self.message})",
                 f"  FLOPs measured {self.flops_range[0]:.4g} .. {self.flops_range[1]:.4g}, fitted up to "
                 f"{self.fit_range[1]:.4g}",
                 f"  asymptote {self.asymptote():.4f} (95% {lo:.4f} .. {hi:.4f}); plug-in limit "
                 f"{'-' if self.limit is None else f'{self.limit:.4f}'}",
                 f"  {'param':>12} {'estimate':>12} {'95% low':>12} {'95% high':>12}  interval"]
        for name, row in self.conf_int().iterrows():
            lines.append(f"  {name:>12} {row.estimate:12.5g} {row.ci_low:12.5g} {row.ci_high:12.5g}  {row.method}")
        lines.append("  family choice (held-out RMSE on the costliest quarter, then AIC):")
        for r in self.selection.itertuples(index=False):
            lines.append(f"    {r.family:<18} heldout {r.heldout_rmse:.4f}  AIC {r.aic:9.2f}  "
                         f"{'chosen' if getattr(r, 'chosen', False) else ''}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"CurveFit({self.label!r}: {self.family} {ps}; converged={self.converged})"

    def _warn(self, flops: np.ndarray) -> None:
        if not self.converged:
            warnings.warn(f"curve {self.label}: the fit did not converge ({self.message}); its predictions "
                          "are unreliable", ExtrapolationWarning, stacklevel=3)
        lo, hi = self.fit_range
        far = (flops > hi * 10) | (flops < lo / 10)
        if far.any():
            warnings.warn(f"curve {self.label}: predicting at {flops[far].max() if (flops > hi * 10).any() else flops[far].min():.3g} "
                          f"FLOPs, more than 10x outside the fitted range {lo:.3g}..{hi:.3g}",
                          ExtrapolationWarning, stacklevel=3)

    def to_dict(self) -> dict:
        return {"key": self.key, "family": self.family, "params": self.params, "converged": self.converged,
                "message": self.message, "c_ref": self.c_ref, "fixed": self.fixed,
                "flops_range": list(self.flops_range), "limit": self.limit, "n_problems": self.n_problems,
                "points": self.points.to_dict(orient="list"), "selection": self.selection.to_dict(orient="list"),
                "draws": None if self.draws is None else self.draws.tolist(), "extra": self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> CurveFit:
        return cls(key=d["key"], family=d["family"], params={k: float(v) for k, v in d["params"].items()},
                   converged=bool(d["converged"]), message=d["message"], c_ref=float(d["c_ref"]),
                   fixed=d["fixed"], flops_range=tuple(d["flops_range"]), points=pd.DataFrame(d["points"]),
                   selection=pd.DataFrame(d["selection"]),
                   draws=None if d["draws"] is None else np.asarray(d["draws"], float), limit=d.get("limit"),
                   n_problems=int(d.get("n_problems", 0)), extra=d.get("extra", {}))


def default_families(strategy: str, limit: float | None) -> list[str]:
    fams = ["power_floor", "logistic"]
    if strategy == "pass_at_k":
        fams.append("monkeys")
    if strategy in VOTING_STRATEGIES and limit is not None and np.isfinite(limit):
        fams.append("power_floor_limit")
    return fams


def _choose_family(fams: list[str], flops, acc, se, observed, c_ref: float, fixed: dict,
                   holdout: float) -> tuple[dict[str, _Fit], pd.DataFrame]:
    """Fit every candidate to all points and, to score extrapolation, to the points before the costliest
    ``holdout`` share of measured ones; the smallest held-out RMSE wins, AIC breaks near-ties (0.002).
    Returns the full fits and the selection table (family, heldout_rmse, aic, converged, message, chosen)."""
    obs_idx = np.flatnonzero(observed)
    n_hold = max(1, int(round(holdout * len(obs_idx))))
    rows, fits = [], {}
    for name in fams:
        fam = FAMILIES[name]
        train = observed.copy()
        train[obs_idx[-n_hold:]] = False
        held = np.nan
        if train.sum() > len(fam.params) and len(obs_idx) - n_hold >= 2:
            ft = _fit_family(fam, flops[train], acc[train], se[train], c_ref, fixed)
            pred = fam.f(np.array([ft.x]), *_design(flops[obs_idx[-n_hold:]], c_ref), fixed)[0]
            held = float(np.sqrt(np.mean((pred - acc[obs_idx[-n_hold:]]) ** 2)))
        fits[name] = _fit_family(fam, flops, acc, se, c_ref, fixed)
        rows.append({"family": name, "heldout_rmse": held, "aic": fits[name].aic,
                     "converged": fits[name].converged, "message": fits[name].message})
    sel = pd.DataFrame(rows)
    pool = sel[sel.converged] if sel.converged.any() else sel
    if pool.heldout_rmse.notna().any():
        pool = pool[pool.heldout_rmse <= pool.heldout_rmse.min() + 0.002]
    sel["chosen"] = sel.family == pool.sort_values("aic").family.iloc[0]
    return fits, sel


def _bootstrap_draws(fam: Family, fit: _Fit, pv: np.ndarray, pf: np.ndarray, se: np.ndarray | None, c_ref: float,
                     fixed: dict, n_boot: int, seed: int, limit_per_problem) -> tuple[np.ndarray, np.ndarray | None]:
    """Refit ``n_boot`` multinomial reweightings of the problems (columns of the points x problems
    values ``pv`` and FLOPs ``pf``), warm-started at ``fit``; with per-problem limit indicators the
    limit-anchored family's limit is resampled with the same weights.  Returns (draws, limit draws)."""
    Pn = pv.shape[1]
    W = problem_weights(Pn, n_boot, seed).T  # (P, B)
    A, F = pv @ W, pf @ W
    SE = binomial_se(A.T, Pn) if se is None else np.broadcast_to(se, (n_boot, len(se)))
    lim_draws = None
    if fam.name == "power_floor_limit" and limit_per_problem is not None and len(limit_per_problem) == Pn:
        lim_draws = np.asarray(limit_per_problem, float) @ W
        fixed = {"limit": lim_draws[:, None]}
    return _fit_batch(fam, np.maximum(F.T, 1e-300), A.T, SE, c_ref, fixed, fit.x), lim_draws


def fit_curve(flops, accuracy, *, se=None, n_problems: int | None = None, families: Sequence[str] | None = None,
              strategy: str = "", limit: float | None = None, key: dict | None = None,
              per_problem: tuple[np.ndarray, np.ndarray] | None = None, observed: np.ndarray | None = None,
              n_boot: int = 0, seed: int = 0, holdout: float = 0.25,
              limit_per_problem: np.ndarray | None = None) -> CurveFit:
    """Fit one accuracy-versus-FLOPs curve (see the module docstring).

    Parameters
    ----------
    flops, accuracy : the points (expected FLOPs per problem, mean accuracy).
    se : standard errors of the accuracies; default the binomial one from ``n_problems``.
    families : candidates (default by strategy: power_floor, logistic, + monkeys for pass_at_k,
        + power_floor_limit for voting when ``limit`` is given).
    per_problem : ``(values, flops)`` matrices (points x problems) for the bootstrap over problems.
    observed : boolean mask of points that are measured (the rest, e.g. per-problem extrapolations, join
        the final fit but not the held-out choice of family).
    n_boot : bootstrap replicates (0 = none).
    limit_per_problem : (problems,) 0/1 (ties: fractions) "the correct answer holds the largest mass"
        indicators aligned with the columns of ``per_problem``; the bootstrap then resamples the plug-in
        limit together with the curve, so the limit-anchored family's band includes its uncertainty.
    """
    flops = np.asarray(flops, float)
    acc = np.asarray(accuracy, float)
    if flops.shape != acc.shape or flops.ndim != 1:
        raise ValueError("fit_curve: flops and accuracy must be 1-d arrays of equal length")
    if (flops <= 0).any() or not np.isfinite(flops).all():
        raise ValueError("fit_curve: flops must be positive and finite")
    order = np.argsort(flops, kind="stable")
    flops, acc = flops[order], acc[order]
    observed = np.ones(len(acc), bool) if observed is None else np.asarray(observed, bool)[order]
    P = int(n_problems or 0)
    se_given = se is not None
    if se is None:
        if not P:
            raise ValueError("fit_curve: give se or n_problems")
        se = binomial_se(acc, P)
    else:
        se = np.maximum(np.asarray(se, float)[order], 1e-4)
    if per_problem is not None:
        pv, pf = (np.asarray(per_problem[0], float)[order], np.asarray(per_problem[1], float)[order])
    fams = list(families or default_families(strategy, limit))
    for f in fams:
        if f not in FAMILIES:
            raise ValueError(f"unknown curve family {f!r}; expected one of {sorted(FAMILIES)}")
    if "power_floor_limit" in fams and (limit is None or not np.isfinite(limit)):
        fams.remove("power_floor_limit")
    fixed = {"limit": float(limit)} if limit is not None and np.isfinite(limit) else {}
    c_ref = float(flops.min())
    fits, sel = _choose_family(fams, flops, acc, se, observed, c_ref, fixed, holdout)
    chosen = str(sel.family[sel.chosen].iloc[0])
    fit = fits[chosen]
    draws, extra = None, {}
    if n_boot and per_problem is not None and fit.converged:
        draws, lim_draws = _bootstrap_draws(FAMILIES[chosen], fit, pv, pf, se if se_given else None, c_ref, fixed,
                                            n_boot, seed, limit_per_problem)
        if lim_draws is not None:
            extra["limit_draws"] = lim_draws.tolist()
    pts = pd.DataFrame({"flops": flops, "accuracy": acc, "se": se,
                        "source": np.where(observed, "observed", "extrapolated")})
    return CurveFit(key=dict(key or {}), family=chosen, params=fit.params, converged=fit.converged,
                    message=fit.message, c_ref=c_ref, fixed=fixed,
                    flops_range=(float(flops[observed].min()), float(flops[observed].max())), points=pts,
                    selection=sel, draws=draws, limit=None if limit is None else float(limit),
                    n_problems=P, extra=extra)

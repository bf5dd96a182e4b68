"""Fit any user-defined law to a table: a safe formula language plus a robust, global least-squares fit.

>>> import numpy as np, pandas as pd
>>> N = np.geomspace(1e7, 1e10, 12)
>>> table = pd.DataFrame({"N": N, "loss": 1.7 + 400 / N ** 0.34})
>>> fit = fit_law(table, "E + A / N**alpha", x=["N"], y="loss")
>>> round(fit.params["alpha"], 2)
0.34

The formula
    A Python-syntax expression over the ``x`` columns and named parameters, e.g.
    ``"E + A / N**alpha + B / D**beta"``.  It is parsed with :mod:`ast` and *interpreted* over numpy
    arrays; only numbers, names, ``+ - * / **``, unary ``-``/``+`` and the functions ``exp, log, log10,
    log2, sqrt, abs, sigmoid, tanh`` are accepted -- anything else (attributes, subscripts, lambdas,
    comprehensions, keyword arguments, other calls) is rejected with a :class:`FormulaError`.  It is
    never passed to ``eval``.  Every name that is not an ``x`` column or a function is a parameter.
    A Python callable works too: its argument names are matched to the ``x`` columns, the remaining
    arguments are the parameters (``lambda N, E, A, alpha: E + A / N**alpha``).

The fit
    Minimise ``sum_i rho(w_i * r_i)`` with ``r_i = log f(x_i) - log y_i`` (``log_space=True``, the
    usual choice for losses spanning decades, as in Hoffmann et al. 2022 and Epoch's replication) or
    ``r_i = f(x_i) - y_i``, and ``rho`` Huber with threshold ``delta`` (or ``"l2"``, ``"soft_l1"``,
    ``"cauchy"``).  Parameters are positive by default and fitted as ``log theta``; ``bounds`` maps a
    name to ``(lo, hi)`` (``None`` for unbounded): a finite interval is fitted through a logistic map, a
    half-line through a shifted log.  The global optimum is searched by evaluating the loss at a Latin
    hypercube of starting points (wide log ranges; exponents -- names raised as a power -- in 0.01..3),
    then running trust-region least squares (``scipy.optimize.least_squares``) from the best few.
    ``bootstrap=B`` refits B row-resampled tables for percentile intervals and prediction bands;
    without it, intervals are Wald intervals from the Gauss-Newton covariance in the fitted coordinates.
"""

from __future__ import annotations

import ast
import inspect
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .results import Results, check_level

__all__ = ["Formula", "FormulaError", "LawFit", "fit_law"]


class FormulaError(ValueError):
    """A formula uses syntax outside the safe subset, or names something that does not exist."""


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, float)))


FUNCTIONS: dict[str, Callable] = {"exp": np.exp, "log": np.log, "log10": np.log10, "log2": np.log2,
                                  "sqrt": np.sqrt, "abs": np.abs, "sigmoid": _sigmoid, "tanh": np.tanh}
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
           ast.Pow: np.power}
_UNARY = {ast.USub: np.negative, ast.UAdd: lambda v: v}


class Formula:
    """A parsed, validated law ``y = f(x; theta)``.

    >>> f = Formula("E + A / N**alpha", variables=["N"])
    >>> f.params
    ['E', 'A', 'alpha']
    >>> float(f({"E": 1.0, "A": 2.0, "alpha": 1.0}, {"N": np.array([2.0])})[0])
    2.0
    """

    def __init__(self, text: str, variables: Sequence[str]):
        if not isinstance(text, str) or not text.strip():
            raise FormulaError("formula must be a non-empty string")
        self.text = text
        self.variables = list(variables)
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise FormulaError(f"formula {text!r} is not a valid expression: {exc.msg}") from None
        self._tree = tree.body
        names: list[str] = []
        exponents: set[str] = set()
        self._check(self._tree, names, exponents, in_exponent=False)
        unused = [v for v in self.variables if v not in names]
        if unused:
            raise FormulaError(f"formula {text!r} does not use the x column(s) {unused}")
        self.params = [n for n in names if n not in self.variables]
        if not self.params:
            raise FormulaError(f"formula {text!r} has no parameters to fit")
        self.exponents = exponents

    def _check(self, node: ast.AST, names: list[str], exponents: set[str], in_exponent: bool) -> None:
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise FormulaError(f"operator {type(node.op).__name__} is not allowed in a formula "
                                   "(use + - * / **)")
            self._check(node.left, names, exponents, in_exponent)
            self._check(node.right, names, exponents, in_exponent or isinstance(node.op, ast.Pow))
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise FormulaError(f"unary operator {type(node.op).__name__} is not allowed in a formula")
            self._check(node.operand, names, exponents, in_exponent)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise FormulaError(f"{node.id!r} is a function; call it as {node.id}(...)")
            if node.id.startswith("_"):
                raise FormulaError(f"name {node.id!r}: names may not start with an underscore")
            if node.id not in names:
                names.append(node.id)
            if in_exponent and node.id not in self.variables:
                exponents.add(node.id)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise FormulaError(f"constant {node.value!r} is not a number")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = ast.unparse(node.func) if hasattr(ast, "unparse") else "?"
                raise FormulaError(f"call to {what!r} is not allowed; functions: {sorted(FUNCTIONS)}")
            if node.keywords or len(node.args) != 1:
                raise FormulaError(f"{node.func.id}() takes exactly one positional argument")
            self._check(node.args[0], names, exponents, in_exponent)
        else:
            raise FormulaError(f"{type(node).__name__} is not allowed in a formula; use numbers, names, "
                               f"+ - * / ** and {sorted(FUNCTIONS)}")

    def _eval(self, node: ast.AST, env: Mapping[str, np.ndarray]):
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, env))
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id](self._eval(node.args[0], env))
        raise FormulaError(f"unexpected node {type(node).__name__}")  # unreachable after _check

    def __call__(self, params: Mapping[str, np.ndarray | float], data: Mapping[str, np.ndarray]) -> np.ndarray:
        env = {**{k: np.asarray(v, float) for k, v in data.items()},
               **{k: np.asarray(v, float) for k, v in params.items()}}
        missing = [n for n in self.variables + self.params if n not in env]
        if missing:
            raise FormulaError(f"formula {self.text!r}: no value for {missing}")
        with np.errstate(all="ignore"):
            return np.asarray(self._eval(self._tree, env), float)

    def __repr__(self) -> str:
        return f"Formula({self.text!r}, variables={self.variables})"


class _CallableLaw:
    """Wrap ``f(<x columns...>, <params...>)`` so it behaves like a :class:`Formula`."""

    def __init__(self, fn: Callable, variables: Sequence[str]):
        sig = inspect.signature(fn)
        names = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        missing = [v for v in variables if v not in names]
        if missing:
            raise FormulaError(f"callable {getattr(fn, '__name__', fn)!r} has no argument(s) named {missing}")
        self.fn = fn
        self.text = getattr(fn, "__name__", "callable")
        self.variables = list(variables)
        self.params = [n for n in names if n not in variables]
        if not self.params:
            raise FormulaError("the callable has no parameter arguments besides the x columns")
        self.exponents: set[str] = set()

    def __call__(self, params, data):
        with np.errstate(all="ignore"):
            return np.asarray(self.fn(**{k: np.asarray(v, float) for k, v in data.items()},
                                      **{k: np.asarray(v, float) for k, v in params.items()}), float)


# --------------------------------------------------------------------------------------------------
# parameter transforms
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Transform:
    lo: float
    hi: float

    @property
    def kind(self) -> str:
        if np.isfinite(self.lo) and np.isfinite(self.hi):
            return "interval"
        if np.isfinite(self.lo):
            return "lower"
        if np.isfinite(self.hi):
            return "upper"
        return "free"

    def to_theta(self, u):
        u = np.asarray(u, float)
        k = self.kind
        with np.errstate(all="ignore"):
            if k == "interval":
                return self.lo + (self.hi - self.lo) * _sigmoid(u)
            if k == "lower":
                return self.lo + np.exp(u)
            if k == "upper":
                return self.hi - np.exp(u)
        return u

    def to_u(self, theta):
        theta = np.asarray(theta, float)
        k = self.kind
        with np.errstate(all="ignore"):
            if k == "interval":
                t = np.clip((theta - self.lo) / (self.hi - self.lo), 1e-12, 1 - 1e-12)
                return np.log(t / (1 - t))
            if k == "lower":
                return np.log(np.maximum(theta - self.lo, 1e-300))
            if k == "upper":
                return np.log(np.maximum(self.hi - theta, 1e-300))
        return theta

    def start_range(self, exponent: bool) -> tuple[float, float]:
        """Range of starting points in the fitted coordinate u."""
        k = self.kind
        if k == "interval":
            return (-4.0, 4.0)
        if k in ("lower", "upper"):
            return (math.log(1e-2), math.log(3.0)) if exponent else (math.log(1e-4), math.log(1e6))
        return (-3.0, 3.0) if exponent else (-10.0, 10.0)


def _transforms(names: list[str], bounds: Mapping | None) -> list[_Transform]:
    bounds = dict(bounds or {})
    unknown = [k for k in bounds if k not in names]
    if unknown:
        raise FormulaError(f"bounds name unknown parameter(s) {unknown}; parameters: {names}")
    out = []
    for n in names:
        lo, hi = bounds.get(n, (0.0, None))
        lo = -np.inf if lo is None else float(lo)
        hi = np.inf if hi is None else float(hi)
        if not lo < hi:
            raise ValueError(f"bounds[{n!r}] = ({lo}, {hi}): lower bound must be below upper bound")
        out.append(_Transform(lo, hi))
    return out


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------

@dataclass
class LawFit(Results):
    """Result of :func:`fit_law`: fitted parameters, intervals, diagnostics, prediction."""

    formula: str
    x: list[str]
    y: str
    params: dict[str, float]
    loss: str
    delta: float
    log_space: bool
    objective: float
    n_obs: int
    converged: bool
    message: str
    cov_u: np.ndarray | None
    draws: np.ndarray | None = None  # (B, p) bootstrap parameter draws
    x_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    _law: object = field(default=None, repr=False)
    _transforms: list = field(default_factory=list, repr=False)

    @property
    def param_names(self) -> list[str]:
        return list(self.params)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Intervals per parameter: bootstrap percentiles when drawn, else Wald in fitted coordinates
        mapped back (so positive parameters keep positive intervals)."""
        a = (1 - check_level(level)) / 2
        rows = []
        for j, name in enumerate(self.params):
            est = self.params[name]
            if self.draws is not None and len(self.draws) > 1:
                d = self.draws[:, j]
                d = d[np.isfinite(d)]
                lo, hi = np.quantile(d, [a, 1 - a]) if len(d) else (np.nan, np.nan)
                method = "bootstrap"
            elif self.cov_u is not None and np.isfinite(self.cov_u[j, j]):
                tr = self._transforms[j]
                u = tr.to_u(est)
                se = math.sqrt(max(self.cov_u[j, j], 0.0))
                z = stats.norm.ppf(1 - a)
                lo, hi = sorted((float(tr.to_theta(u - z * se)), float(tr.to_theta(u + z * se))))
                method = "wald"
            else:
                lo = hi = np.nan
                method = "none"
            rows.append({"param": name, "estimate": est, "ci_low": float(lo), "ci_high": float(hi), "method": method})
        return pd.DataFrame(rows).set_index("param")

    def to_frame(self) -> pd.DataFrame:
        """The parameters with their intervals (:meth:`conf_int` at 95 %), one row each."""
        return self.conf_int().reset_index()

    def _data(self, data, kwargs) -> dict[str, np.ndarray]:
        if data is None:
            data = kwargs
        if isinstance(data, pd.DataFrame):
            missing = [c for c in self.x if c not in data]
            if missing:
                raise KeyError(f"predict: table lacks x column(s) {missing}")
            return {c: data[c].to_numpy(float) for c in self.x}
        if isinstance(data, Mapping):
            return {c: np.asarray(data[c], float) for c in self.x}
        if len(self.x) == 1:
            return {self.x[0]: np.asarray(data, float)}
        raise TypeError("predict: pass a DataFrame or a mapping of the x columns")

    def predict(self, data=None, *, interval: bool = False, level: float = 0.95, **kwargs):
        """Predicted y.  ``interval=True`` returns (prediction, low, high) from the bootstrap draws."""
        d = self._data(data, kwargs)
        pred = self._law(self.params, d)
        if not interval:
            return pred
        if self.draws is None or len(self.draws) < 2:
            raise ValueError("prediction bands need bootstrap draws: fit with bootstrap=B")
        sims = np.stack([self._law(dict(zip(self.params, row, strict=True)), d) for row in self.draws])
        a = (1 - level) / 2
        return pred, np.nanquantile(sims, a, axis=0), np.nanquantile(sims, 1 - a, axis=0)

    def summary(self) -> str:
        ci = self.conf_int()
        lines = [f"Law fit: {self.y} = {self.formula}",
                 f"  observations {self.n_obs}; loss {self.loss} (delta={self.delta:g}) on "
                 f"{'log ' if self.log_space else ''}residuals; objective {self.objective:.6g}",
                 f"  converged: {'yes' if self.converged else 'NO'} ({self.message})"]
        for c, (lo, hi) in self.x_range.items():
            lines.append(f"  {c} range: {lo:.4g} .. {hi:.4g}")
        lines.append(f"  {'param':>12} {'estimate':>12} {'95% low':>12} {'95% high':>12}  interval")
        for name, row in ci.iterrows():
            lines.append(f"  {name:>12} {row.estimate:12.5g} {row.ci_low:12.5g} {row.ci_high:12.5g}  {row.method}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"LawFit({self.formula!r}: {ps}; converged={self.converged})"


# --------------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------------

_LOSSES = {"huber": "huber", "l2": "linear", "linear": "linear", "soft_l1": "soft_l1", "cauchy": "cauchy"}


def _rho(r: np.ndarray, loss: str, delta: float) -> np.ndarray:
    """Loss per residual, matching scipy.least_squares' rho(z = (r/delta)^2) * delta^2 (summed /2)."""
    z = (r / delta) ** 2
    if loss == "linear":
        v = z
    elif loss == "huber":
        v = np.where(z <= 1, z, 2 * np.sqrt(z) - 1)
    elif loss == "soft_l1":
        v = 2 * (np.sqrt(1 + z) - 1)
    else:
        v = np.log1p(z)
    return 0.5 * delta ** 2 * v


def _residual_fn(law, names, trs, data, yv, w, log_space):
    def resid(u_mat: np.ndarray) -> np.ndarray:
        """u_mat (S, p) -> residuals (S, n)."""
        theta = {n: tr.to_theta(u_mat[:, j:j + 1]) for j, (n, tr) in enumerate(zip(names, trs, strict=True))}
        pred = np.broadcast_to(law(theta, {k: v[None, :] for k, v in data.items()}), (u_mat.shape[0], len(yv)))
        if log_space:
            with np.errstate(all="ignore"):
                r = np.log(np.where(pred > 0, pred, np.nan)) - np.log(yv)[None, :]
            r = np.where(np.isfinite(r), r, 50.0)
        else:
            r = pred - yv[None, :]
            r = np.where(np.isfinite(r), r, 1e6)
        return r * w[None, :]
    return resid


def _lhs(n: int, ranges: list[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    p = len(ranges)
    u = (rng.permuted(np.tile(np.arange(n), (p, 1)), axis=1).T + rng.random((n, p))) / n
    lo = np.array([r[0] for r in ranges])
    hi = np.array([r[1] for r in ranges])
    return lo + u * (hi - lo)


def _solve(resid, u0_list, loss, delta, max_nfev=2000, n_polish: int = 0):
    """Local robust fits from each start; for the first ``n_polish`` starts also a least-squares fit first
    (a smooth landscape that reaches the basin) and the robust loss from there.  Lowest robust objective
    wins."""
    best = None
    fun = lambda u: resid(u[None, :])[0]  # noqa: E731
    runs = [(u0, False) for u0 in u0_list]
    if loss != "linear":
        runs += [(u0, True) for u0 in u0_list[:n_polish]]
    for u0, polish in runs:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = _local(fun, u0, polish, loss, delta, max_nfev)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue
        if best is None or res.cost < best.cost:
            best = res
    return best


def _local(fun, u0, polish, loss, delta, max_nfev):
    """One local fit: optionally least squares first, then the robust loss."""
    if polish:
        u0 = optimize.least_squares(fun, u0, method="trf", max_nfev=max_nfev // 2, x_scale="jac").x
    return optimize.least_squares(fun, u0, loss=loss, f_scale=delta, method="trf", max_nfev=max_nfev,
                                  x_scale="jac")


def _columns(table, xs: list[str], y: str, log_space: bool, weights) -> tuple[dict, np.ndarray, np.ndarray]:
    """The x columns, y and the residual weights, checked (named errors for missing or bad values)."""
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(dict(table))
    for col in xs + [y]:
        if col not in table:
            raise KeyError(f"fit_law: the table has no column {col!r}; columns: {list(table.columns)}")
    data = {c: table[c].to_numpy(float) for c in xs}
    yv = table[y].to_numpy(float)
    ok = np.isfinite(yv) & np.all([np.isfinite(v) for v in data.values()], axis=0)
    if log_space:
        bad = ok & (yv <= 0)
        if bad.any():
            raise ValueError(f"fit_law: log_space=True needs y > 0, but column {y!r} has "
                             f"{int(bad.sum())} value(s) <= 0 (row {int(np.flatnonzero(bad)[0])})")
    if (~ok).any():
        raise ValueError(f"fit_law: {int((~ok).sum())} row(s) with missing or infinite values in "
                         f"{xs + [y]} (first: row {int(np.flatnonzero(~ok)[0])})")
    if weights is None:
        w = np.ones(len(yv))
    elif isinstance(weights, str):
        w = table[weights].to_numpy(float)
    else:
        w = np.asarray(weights, float)
    return data, yv, w


def _starts(law, names, trs, resid_all, p0, n_starts, n_refine, ls_loss, delta, rng) -> list[np.ndarray]:
    """Global search: score a Latin hypercube of starts in one pass; keep the best ``n_refine``, plus as many
    drawn from the best tenth for diversity (one basin can own the top), plus ``p0``."""
    ranges = [tr.start_range(n in law.exponents) for n, tr in zip(names, trs, strict=True)]
    cand = _lhs(n_starts or min(4096, 256 * len(names)), ranges, rng)
    if p0:
        extra = np.array([[tr.to_u(p0.get(n, tr.to_theta(np.mean(r))))
                           for n, tr, r in zip(names, trs, ranges, strict=True)]])
        cand = np.vstack([extra, cand])
    scores = np.concatenate([_rho(resid_all(cand[i:i + 512]), ls_loss, delta).sum(axis=1)
                             for i in range(0, len(cand), 512)])
    order = np.argsort(np.where(np.isfinite(scores), scores, np.inf))
    pool = order[n_refine:max(2 * n_refine, len(order) // 10)]
    extra_i = rng.choice(pool, size=min(n_refine, len(pool)), replace=False) if len(pool) else []
    top = [cand[i] for i in order[:n_refine]] + [cand[i] for i in extra_i]
    return ([cand[0]] if p0 else []) + top


def _diagnose(res, r_hat: np.ndarray, names: list[str], n_obs: int) -> tuple[bool, str, np.ndarray | None]:
    """Converged? (optimiser status, finite, no transformed parameter beyond |30|, identified), the
    message, and the Wald covariance of the transformed parameters."""
    u_hat = res.x
    big = np.abs(u_hat) > 30
    converged = bool(res.status > 0 and np.all(np.isfinite(u_hat)) and np.isfinite(res.cost) and not big.any())
    msg = res.message if converged else (f"parameters ran off to the edge of their range: "
                                         f"{[n for n, b in zip(names, big, strict=True) if b]}" if big.any() else res.message)
    cov_u = None
    try:
        J = res.jac
        s2 = float(np.sum(r_hat ** 2) / max(n_obs - len(names), 1))
        cov_u = np.linalg.pinv(J.T @ J) * s2
        if np.linalg.cond(J.T @ J) > 1e14:
            converged = False
            msg = "parameters are not identified by the data (singular Jacobian)"
    except (np.linalg.LinAlgError, ValueError):
        pass
    return converged, str(msg), cov_u


def fit_law(table, formula: str | Callable, x: Sequence[str] | str, y: str, p0: Mapping[str, float] | None = None,
            bounds: Mapping[str, tuple[float | None, float | None]] | None = None, loss: str = "huber",
            delta: float = 1e-3, log_space: bool = True, bootstrap: int = 0, weights: str | np.ndarray | None = None,
            n_starts: int | None = None, n_refine: int = 8, seed: int = 0) -> LawFit:
    """Fit ``y = formula(x; theta)`` robustly and globally.  See the module docstring for the method.

    Parameters
    ----------
    table : DataFrame (or mapping of columns) holding the ``x`` columns and ``y``.
    formula : expression string over the x columns and parameters, or a callable (see module docs).
    x, y : column names.
    p0 : optional starting values (added to the multi-start set).
    bounds : ``{name: (lo, hi)}``; parameters not named are positive, ``(0, None)``.
    loss : ``"huber"`` (default), ``"l2"``, ``"soft_l1"`` or ``"cauchy"``; ``delta`` its scale.
    log_space : residuals ``log f - log y`` (needs y > 0) instead of ``f - y``.
    bootstrap : number of row-resampled refits for intervals and prediction bands.
    weights : a column name or array of residual weights (e.g. inverse standard errors).
    n_starts : number of Latin-hypercube starting points (default 256 per parameter, at most 4096).
    """
    xs = [x] if isinstance(x, str) else list(x)
    law = _CallableLaw(formula, xs) if callable(formula) else Formula(formula, xs)
    data, yv, w = _columns(table, xs, y, log_space, weights)
    names = list(law.params)
    if len(yv) < len(names):
        raise ValueError(f"fit_law: {len(yv)} observation(s) cannot determine {len(names)} parameters {names}")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {loss!r}")
    ls_loss = _LOSSES[loss]
    trs = _transforms(names, bounds)
    rng = np.random.default_rng(seed)
    resid = _residual_fn(law, names, trs, data, yv, w, log_space)
    res = _solve(resid, _starts(law, names, trs, resid, p0, n_starts, n_refine, ls_loss, delta, rng), ls_loss,
                 delta, n_polish=n_refine)
    if res is None:
        raise RuntimeError(f"fit_law: every local fit of {law.text!r} failed")
    u_hat = res.x
    theta = {n: float(tr.to_theta(u)) for n, tr, u in zip(names, trs, u_hat, strict=True)}
    converged, msg, cov_u = _diagnose(res, resid(u_hat[None, :])[0], names, len(yv))
    draws = None
    if bootstrap:
        draws = np.full((bootstrap, len(names)), np.nan)
        for b in range(bootstrap):
            idx = rng.integers(0, len(yv), len(yv))
            resid_b = _residual_fn(law, names, trs, {k: v[idx] for k, v in data.items()}, yv[idx], w[idx],
                                   log_space)
            rb = _solve(resid_b, [u_hat], ls_loss, delta)
            if rb is not None and rb.status > 0:
                draws[b] = [tr.to_theta(u) for tr, u in zip(trs, rb.x, strict=True)]
    return LawFit(formula=law.text, x=xs, y=y, params=theta, loss=loss, delta=float(delta), log_space=log_space,
                  objective=float(res.cost), n_obs=len(yv), converged=converged, message=msg, cov_u=cov_u,
                  draws=draws, x_range={c: (float(v.min()), float(v.max())) for c, v in data.items()}, _law=law,
                  _transforms=trs)

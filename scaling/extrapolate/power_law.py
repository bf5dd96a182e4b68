"""The aggregate power law of Brown et al. (2024), ``-log acc(k) = a k^-b``: the baseline every
per-problem model is compared with, and for coverage a candidate of its own (:func:`power_law_coverage`,
chosen against the per-problem model by :func:`scaling.extrapolate.predict.choose_coverage`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import estimators as est
from .groups import STRATEGIES, _arrays


def power_law_anchor(m, strategy: str, ks, *, n_points: int = 16, seed: int = 0) -> np.ndarray:
    """The aggregate power law of Brown et al. (2024), ``-log acc(k) = A k^-b``, fitted by least squares
    on ``log(-log acc)`` against ``log k`` to the exact cached curve at ``n_points`` log-spaced k from 1 to
    the smallest n, and evaluated at ``ks``.  It knows only the curve's shape (and tends to 1, or to 0 for
    a falling curve, so it cannot saturate as voting does).

    >>> from scaling.synthetic import make_world, sample_table
    >>> from scaling.matrix import to_matrices
    >>> m = to_matrices(sample_table(make_world(100, seed=1), 32))[0]
    >>> bool(0 < power_law_anchor(m, "pass_at_k", [512])[0] <= 1)
    True
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    return fit_power_law(_arrays(m), strategy, n_points=n_points, seed=seed)(ks)


def _weighted_curve(a: dict, kk: list[int], seed: int) -> list[np.ndarray]:
    reward = np.nan_to_num(np.where(a["valid"], a["reward"], 0.0))
    res = est.weighted_majority_mc(a["codes"], reward, a["class_value"], kk, n_draws=64, seed=seed)
    return [res[k][0] for k in kk]


#: Per strategy of the registry evaluated at each k: the columns of its exact curve at ``kk``.
_CURVES = {
    "pass_at_k": lambda a, kk, seed: [est.pass_at_k(a["n"], a["c"], k) for k in kk],
    "best_of_n": lambda a, kk, seed: list(est.best_of_ks(np.where(a["valid"], a["reward"], -np.inf), a["correct"],
                                                         a["n"], kk).values()),
    "majority": lambda a, kk, seed: list(est.majority_at_ks(a["codes"], a["class_value"], a["n"], kk).values()),
    "weighted_majority": _weighted_curve,
}
assert set(_CURVES) == set(STRATEGIES), "every strategy the models extrapolate has its curve here"


def strategy_curve(a: dict, strategy: str, kk, seed: int = 0) -> np.ndarray:
    """(P, K) each problem's exact value of ``strategy`` at every k in ``kk`` (k <= every problem's n;
    weighted majority by Monte Carlo over 64 subsets)."""
    return np.stack(_CURVES[strategy](a, [int(k) for k in kk], seed), axis=1)


def _log_ks(k_max: int, n_points: int) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1, max(int(k_max), 1), n_points)).astype(int))


@dataclass
class PowerLaw:
    """``acc(k) = exp(-a k^-b)``, i.e. ``log(-log acc)`` linear in ``log k`` with slope ``-b``; ``draws``:
    (B, 2) bootstrap replicates of (log a, b) over problems, or None."""

    log_a: float
    b: float
    draws: np.ndarray | None = None

    @classmethod
    def fit(cls, ks, acc) -> PowerLaw:
        """Least squares of ``log(-log acc)`` on ``log k`` (accuracies clipped to [1e-9, 1 - 1e-9])."""
        y = np.log(-np.log(np.clip(np.asarray(acc, float), 1e-9, 1 - 1e-9)))
        slope, icpt = np.polyfit(np.log(np.asarray(ks, float)), y, 1)
        return cls(float(icpt), float(-slope))

    def __call__(self, ks) -> np.ndarray:
        return np.exp(-np.exp(self.log_a - self.b * np.log(np.asarray(ks, float))))

    def replicates(self, ks) -> np.ndarray:
        """(B, K) the bootstrap replicates' values at ``ks``."""
        lk = np.log(np.asarray(ks, float))
        return np.exp(-np.exp(self.draws[:, :1] - self.draws[:, 1:] * lk[None, :]))

    def interval(self, ks, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """The ``level`` percentile interval of the bootstrap replicates at ``ks`` (the value itself at
        both ends without replicates)."""
        if self.draws is None:
            return self(ks), self(ks)
        lo, hi = np.quantile(self.replicates(ks), [(1 - level) / 2, (1 + level) / 2], axis=0)
        return lo, hi


def fit_power_law(a: dict, strategy: str, *, k_max: int | None = None, n_points: int = 16, n_boot: int = 0,
                  seed: int = 0) -> PowerLaw:
    """Brown et al.'s law fitted to the exact curve of ``strategy`` (the mean over problems of
    :func:`strategy_curve`) at ``n_points`` log-spaced k from 1 to ``k_max`` (default: the smallest n; a
    smaller ``k_max`` is the in-data check's fit on the head of the curve).  ``n_boot`` replicates refit
    it on problems resampled with replacement (the curve is linear in the problems, so each replicate
    is one weighted mean of the same per-problem values)."""
    kk = _log_ks(k_max or int(a["n"].min()), n_points)
    per = strategy_curve(a, strategy, kk, seed)
    out = PowerLaw.fit(kk, per.mean(axis=0))
    if n_boot:
        P = len(per)
        W = np.random.default_rng(seed).multinomial(P, np.full(P, 1.0 / P), size=n_boot) / P
        y = np.log(-np.log(np.clip(W @ per, 1e-9, 1 - 1e-9)))                # (B, K)
        X = np.stack([np.ones(len(kk)), np.log(kk)], axis=1)
        coef = np.linalg.lstsq(X, y.T, rcond=None)[0]                         # (2, B)
        out.draws = np.stack([coef[0], -coef[1]], axis=1)
    return out


def power_law_coverage(c, n, k_max: int | None = None, *, n_points: int = 16, n_boot: int = 0,
                       seed: int = 0) -> PowerLaw:
    """:func:`fit_power_law` of coverage from success counts ``c`` of ``n`` solutions per problem.

    >>> pl = power_law_coverage(np.array([0, 1, 3, 10, 0, 2]), np.full(6, 16))
    >>> bool(pl(16) < pl(256) < 1)
    True
    """
    return fit_power_law({"c": np.asarray(c), "n": np.asarray(n)}, "pass_at_k", k_max=k_max, n_points=n_points,
                         n_boot=n_boot, seed=seed)

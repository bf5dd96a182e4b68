"""A sampling group's exact values at k <= n: every cached solution (:func:`_exact_at_n`) or the expectation
over size-k subsets (:func:`_exact_at`; weighted majority by Monte Carlo).  The per-problem models are
anchored at these values and the in-data checks score against them."""

from __future__ import annotations

import numpy as np

from .. import estimators as est
from ..estimators import vote
from ..matrix import class_mass
from .groups import STRATEGIES


def _vote_at_n(a: dict, weighted: bool) -> np.ndarray:
    codes, value = a["codes"], a["class_value"]
    n_cls = value.shape[1]
    counts = class_mass(codes, None, n_cls)
    present = counts > 0
    mass = np.where(present, class_mass(codes, a["reward"], n_cls), 0.0) if weighted else counts
    return vote(mass, present, value)


def _best_at_n(a: dict) -> np.ndarray:
    r = np.where(a["valid"] & np.isfinite(a["reward"]), a["reward"], -np.inf)
    top = r.max(axis=1, keepdims=True)
    tied = (r == top) & np.isfinite(r)
    nt = tied.sum(axis=1)
    return np.where(nt > 0, (tied & a["correct"]).sum(axis=1) / np.maximum(nt, 1), 0.0)


def _weighted_at(a: dict, k: int, seed: int) -> np.ndarray:
    reward = np.where(a["valid"], a["reward"], 0.0)
    return est.weighted_majority_mc(a["codes"], np.nan_to_num(reward), a["class_value"], [k], n_draws=128,
                                    seed=seed)[k][0]


#: Per strategy of the registry evaluated at each k: (value with all n solutions, value at k <= n).
_EXACT = {
    "pass_at_k": (lambda a: (a["c"] > 0).astype(float), lambda a, k, seed: est.pass_at_k(a["n"], a["c"], k)),
    "majority": (lambda a: _vote_at_n(a, False),
                 lambda a, k, seed: est.majority_at_k(a["codes"], a["class_value"], a["n"], k)),
    "weighted_majority": (lambda a: _vote_at_n(a, True), _weighted_at),
    "best_of_n": (_best_at_n, lambda a, k, seed: est.best_of_k(np.where(a["valid"], a["reward"], -np.inf),
                                                               a["correct"], a["n"], k)),
}
assert set(_EXACT) == set(STRATEGIES), "every strategy the models extrapolate has its exact values here"


def _kernels(strategy: str):
    try:
        return _EXACT[strategy]
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}") from None


def _exact_at_n(a: dict, strategy: str) -> np.ndarray:
    """The strategy's value using all n_i cached solutions of each problem (ties split)."""
    return _kernels(strategy)[0](a)


def _exact_at(a: dict, strategy: str, k: int, seed: int) -> np.ndarray:
    """Exact (Monte Carlo for weighted voting) value of the strategy at k <= n_i per problem."""
    at_n, at_k = _kernels(strategy)
    n = a["n"]
    if k >= n.min() and (n == n.min()).all():
        return at_n(a)
    return at_k(a, k, seed)

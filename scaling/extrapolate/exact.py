"""A sampling group's exact values at k <= n: every cached solution (:func:`_exact_at_n`) or the expectation
over size-k subsets (:func:`_exact_at`; weighted majority by Monte Carlo).  The per-problem models are
anchored at these values and the in-data checks score against them."""

from __future__ import annotations

import numpy as np

from .. import estimators as est
from ..estimators import vote
from ..matrix import class_mass
from .groups import STRATEGIES


def _exact_at_n(a: dict, strategy: str) -> np.ndarray:
    """The strategy's value using all n_i cached solutions of each problem (ties split)."""
    codes, value = a["codes"], a["class_value"]
    n_cls = value.shape[1]
    if strategy == "pass_at_k":
        return (a["c"] > 0).astype(float)
    if strategy in ("majority", "weighted_majority"):
        counts = class_mass(codes, None, n_cls)
        present = counts > 0
        mass = counts if strategy == "majority" else np.where(present, class_mass(codes, a["reward"], n_cls), 0.0)
        return vote(mass, present, value)
    if strategy == "best_of_n":
        r = np.where(a["valid"] & np.isfinite(a["reward"]), a["reward"], -np.inf)
        top = r.max(axis=1, keepdims=True)
        tied = (r == top) & np.isfinite(r)
        nt = tied.sum(axis=1)
        return np.where(nt > 0, (tied & a["correct"]).sum(axis=1) / np.maximum(nt, 1), 0.0)
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


def _exact_at(a: dict, strategy: str, k: int, seed: int) -> np.ndarray:
    """Exact (Monte Carlo for weighted voting) value of the strategy at k <= n_i per problem."""

    n = a["n"]
    if k >= n.min() and (n == n.min()).all():
        return _exact_at_n(a, strategy)
    if strategy == "pass_at_k":
        return est.pass_at_k(n, a["c"], k)
    if strategy == "best_of_n":
        r = np.where(a["valid"], a["reward"], -np.inf)
        return est.best_of_k(r, a["correct"], n, k)
    if strategy == "majority":
        return est.majority_at_k(a["codes"], a["class_value"], n, k)
    reward = np.where(a["valid"], a["reward"], 0.0)
    return est.weighted_majority_mc(a["codes"], np.nan_to_num(reward), a["class_value"], [k], n_draws=128,
                                    seed=seed)[k][0]

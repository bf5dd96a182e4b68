"""One sampling group as the arrays the models need, and its exact (subset) values at k <= n."""

from __future__ import annotations

import numpy as np

from .. import estimators as est
from ..estimators import vote
from ..matrix import class_mass

STRATEGIES = ("pass_at_k", "majority", "weighted_majority", "best_of_n")


def _arrays(m) -> dict:
    codes = np.asarray(m.codes)
    valid = codes != -2
    n = valid.sum(axis=1)
    correct = np.asarray(m.correct, bool) & valid
    c = correct.sum(axis=1)
    reward = None if getattr(m, "reward", None) is None else np.asarray(m.reward, float)
    flops = np.asarray(m.flops, float)
    per_sample = np.where(valid, flops, 0.0).sum(axis=1) / np.maximum(n, 1)
    prompt = np.asarray(getattr(m, "prompt_flops", np.zeros(len(n))), float)
    return {"codes": codes, "valid": valid, "n": n, "correct": correct, "c": c, "reward": reward,
            "per_sample_flops": per_sample, "prompt_flops": prompt,
            "class_value": np.asarray(m.class_value, float)}


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



def _head(a: dict, n1: int) -> dict:
    """The arrays of the first ``n1`` solutions of every problem (sample order)."""
    b = dict(a)
    for key in ("codes", "valid", "correct"):
        b[key] = a[key][:, :n1]
    b["reward"] = None if a["reward"] is None else a["reward"][:, :n1]
    b["n"] = b["valid"].sum(axis=1)
    b["c"] = b["correct"].sum(axis=1)
    return b



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



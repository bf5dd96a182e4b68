"""One sampling group as the arrays the models need (the exact values at k <= n are in
:mod:`scaling.extrapolate.exact`)."""

from __future__ import annotations

import numpy as np

from ..registry import AT_K_STRATEGIES

#: The strategies the per-problem models extrapolate: the registry's, evaluated at each k.
STRATEGIES = AT_K_STRATEGIES


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


def _head(a: dict, n1: int) -> dict:
    """The arrays of the first ``n1`` solutions of every problem (sample order)."""
    b = dict(a)
    for key in ("codes", "valid", "correct"):
        b[key] = a[key][:, :n1]
    b["reward"] = None if a["reward"] is None else a["reward"][:, :n1]
    b["n"] = b["valid"].sum(axis=1)
    b["c"] = b["correct"].sum(axis=1)
    return b

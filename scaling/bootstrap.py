"""The bootstrap over problems, one for the whole package: the curves' bands and the limits of an
:class:`scaling.Evaluation` (means over problems), and the refits behind a fitted curve's band
(:func:`scaling.curves.fit_curve`), all resample the problems of a group the same way.

A replicate gives problem i the weight ``W_i = M_i / P`` with ``(M_1 .. M_P) ~ Multinomial(P, 1/P)``
(resampling P problems with replacement); a statistic that is a mean over problems becomes ``W @ v``.
Draws are seeded by ``seed`` and, when given, a group's key, so the same group always gets the same
replicates whatever else is evaluated beside it.  Percentile intervals at ``level``.

>>> w = problem_weights(4, n_boot=3, seed=0)
>>> w.shape, bool(np.allclose(w.sum(axis=1), 1.0))
((3, 4), True)
>>> bool((problem_weights(4, 3, 0, key=("t", "m")) == problem_weights(4, 3, 0, key=("t", "m"))).all())
True
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["problem_weights", "GroupWeights", "percentile_interval"]


def problem_weights(n_problems: int, n_boot: int, seed: int, key: tuple | None = None) -> np.ndarray:
    """(n_boot, n_problems) bootstrap weights over problems (each row sums to 1), seeded by ``seed`` and,
    when given, the group ``key`` (its values joined as text)."""
    if n_boot <= 0:
        return np.zeros((0, n_problems))
    rng = np.random.default_rng(seed if key is None else [seed, zlib.crc32("\x1f".join(map(str, key)).encode())])
    return rng.multinomial(n_problems, np.full(n_problems, 1.0 / n_problems), size=n_boot) / n_problems


class GroupWeights:
    """:func:`problem_weights` per group, drawn once and kept, so that tables aggregated from the same
    groups (an Evaluation's curves and limits) share their replicates."""

    def __init__(self, n_boot: int, seed: int):
        self.n_boot, self.seed = int(n_boot), int(seed)
        self._drawn: dict[tuple, np.ndarray] = {}

    def __call__(self, key: tuple, n_problems: int) -> np.ndarray:
        if (key, n_problems) not in self._drawn:
            self._drawn[key, n_problems] = problem_weights(n_problems, self.n_boot, self.seed, key=key)
        return self._drawn[key, n_problems]


def percentile_interval(boots: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` percentile interval of bootstrap replicates along ``axis`` (NaN replicates ignored)."""
    a = (1 - level) / 2
    lo, hi = np.nanquantile(boots, [a, 1 - a], axis=axis)
    return lo, hi

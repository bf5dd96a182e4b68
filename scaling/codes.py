"""The answer-class encoding every kernel reads: one integer code per solution, per unit (problem or
search run) of a :class:`scaling.matrix.SampleMatrix`.

Codes ``0 .. C-1`` are the unit's answer classes (equal canonical answers share one), :data:`NULL` a
solution with no answer (it never wins a vote), :data:`PAD` the slots past a unit's last solution.
:func:`class_mass` sums a weight (or counts) per class.

>>> class_mass(np.array([[0, 0, 1, NULL, PAD]]), None, 2)
array([[2., 1.]])
"""

from __future__ import annotations

import numpy as np

NULL = -1
PAD = -2


def class_mass(codes: np.ndarray, weights: np.ndarray | None, n_classes: int) -> np.ndarray:
    """(P, C) sum of ``weights`` (or counts) per answer class; null answers, padding and non-finite
    weights are ignored."""
    p, s = codes.shape
    valid = codes >= 0
    if weights is not None:
        valid = valid & np.isfinite(weights)          # a missing weight adds nothing
    flat = (np.arange(p)[:, None] * n_classes + np.where(valid, codes, 0))[valid]
    w = None if weights is None else weights[valid]
    return np.bincount(flat, weights=w, minlength=p * n_classes).reshape(p, n_classes).astype(float)


__all__ = ["NULL", "PAD", "class_mass"]

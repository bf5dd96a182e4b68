"""scaling.majority: the exact majority@k kernel against exact rational enumeration (tests/brute.py)."""

from __future__ import annotations

import numpy as np
import pytest
from brute import exact_majority

from scaling.majority import majority_counts


@pytest.mark.parametrize("seed", range(6))
def test_majority_counts_equal_exact_rationals(seed):
    rng = np.random.default_rng(seed)
    P = 12
    C = int(rng.integers(2, 6))
    counts = rng.integers(0, 9, size=(P, C))
    counts[:, 0] = np.maximum(counts[:, 0], 1)
    value = (rng.random((P, C)) < 0.4).astype(float)       # several right classes happen
    value[:, 0] = 1.0
    nulls = rng.integers(0, 4, size=P)
    n = counts.sum(axis=1) + nulls
    k = np.array([int(rng.integers(1, max(2, ni))) for ni in n])
    got = majority_counts(counts, value, n, k)
    for p in range(P):
        want = exact_majority(counts[p].tolist(), int(nulls[p]), value[p].tolist(), int(k[p]))
        assert got[p] == pytest.approx(float(want), abs=1e-12), (seed, p)


def test_chunking_changes_values_only_by_rounding():
    rng = np.random.default_rng(7)
    counts = rng.integers(1, 20, size=(40, 4))
    value = np.zeros((40, 4))
    value[:, 1] = 1
    n = counts.sum(axis=1)
    k = np.minimum(n - 1, 9)
    # a chunk shares its quadrature size, so values agree to rounding, not bit for bit
    assert np.allclose(majority_counts(counts, value, n, k, chunk=3), majority_counts(counts, value, n, k),
                       rtol=0, atol=1e-13)


def test_a_sure_winner_and_a_sure_loser():
    counts = np.array([[10, 0], [0, 10]])
    value = np.array([[1.0, 0.0], [1.0, 0.0]])
    n, k = np.array([10, 10]), np.array([3, 3])
    assert majority_counts(counts, value, n, k).tolist() == pytest.approx([1.0, 0.0])

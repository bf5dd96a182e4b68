"""scaling.frontier: the Pareto set against a brute-force dominance check, oracles left out, size law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling.frontier import pareto
from scaling.registry import competes


def _dominated(pts: pd.DataFrame, i: int) -> bool:
    f, a = pts.flops.iloc[i], pts.accuracy.iloc[i]
    for j in range(len(pts)):
        if j == i:
            continue
        fj, aj = pts.flops.iloc[j], pts.accuracy.iloc[j]
        if fj <= f and aj >= a and (fj < f or aj > a or j < i):
            return True
    return False


@pytest.mark.parametrize("seed", range(5))
def test_pareto_equals_brute_force_dominance(seed):
    rng = np.random.default_rng(seed)
    n = 40
    pts = pd.DataFrame({"flops": rng.choice([1.0, 2.0, 4.0, 8.0, 16.0], n),
                        "accuracy": rng.choice(np.linspace(0, 1, 7), n), "id": np.arange(n)})
    got = pareto(pts)
    keep = [i for i in range(n) if not _dominated(pts, i)]
    want = pts.iloc[keep]
    assert sorted(zip(got.flops, got.accuracy, strict=True)) == sorted(zip(want.flops, want.accuracy, strict=True))
    assert got.flops.is_monotonic_increasing and got.accuracy.is_monotonic_increasing


def test_missing_values_and_columns_are_named():
    with pytest.raises(ValueError, match=r"column 'accuracy' has a missing value \(row 1\)"):
        pareto(pd.DataFrame({"flops": [1.0, 2.0], "accuracy": [0.1, np.nan]}))
    with pytest.raises(KeyError, match="no column 'flops'"):
        pareto(pd.DataFrame({"cost": [1.0], "accuracy": [0.1]}))


def test_pass_at_k_competes_only_by_name():
    assert not competes("pass_at_k", {})
    assert competes("pass_at_k", {"strategy": "pass_at_k"})
    assert competes("majority", {})

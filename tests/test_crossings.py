"""scaling.crossings: the smaller-model-wins measure, against brute force and a family with a known answer."""

import itertools

import numpy as np
import pandas as pd
import pytest

from scaling.crossings import crossings


def family(ps, params, ks=(1, 2, 4, 8, 16, 32)):
    """Curves of a coverage-like law acc(k) = 1 - (1 - p)^k with FLOPs = params * k."""
    rows = [{"model": f"m{i}", "params": n, "k": k, "flops": n * k, "accuracy": 1 - (1 - p) ** k}
            for i, (p, n) in enumerate(zip(ps, params, strict=True)) for k in ks]
    return pd.DataFrame(rows)


def test_known_family_gain_is_exact():
    # small p = 0.5, large p = 0.6 at 4x the parameters: small@4 (FLOPs 4) meets large@1 (FLOPs 4).
    c = family([0.5, 0.6], [1.0, 4.0])
    cr = crossings(c)
    row = cr.pairs.iloc[0]
    # small@k (FLOPs k) against large interpolated in log FLOPs between its points at 4 * 2^j
    gains = {k: 1 - 0.5 ** k - (1 - 0.4 ** (k // 4)) for k in (4, 8, 16, 32)}
    assert row.k == max(gains, key=gains.get)
    assert row.gain == pytest.approx(max(gains.values()), abs=1e-12)
    assert cr.n_winning_pairs == 1 and cr.winning_small_sizes == ["m0"]


def test_no_pair_when_larger_is_not_better_per_sample():
    c = family([0.5, 0.51], [1.0, 4.0])          # acc1 gap 0.01 < gap 0.03
    cr = crossings(c)
    assert cr.pairs.empty and cr.n_winning_pairs == 0


def brute_pairs(c, gap, min_k):
    out = {}
    for s, big in itertools.permutations(c.model.unique(), 2):
        cs, cb = c[c.model == s].sort_values("k"), c[c.model == big].sort_values("k")
        if cs.params.iloc[0] >= cb.params.iloc[0] or cb.accuracy.iloc[0] < cs.accuracy.iloc[0] + gap:
            continue
        best = None
        for k, f, a in zip(cs.k, cs.flops, cs.accuracy, strict=True):
            if k < min_k or not cb.flops.min() <= f <= cb.flops.max():
                continue
            x = np.log(f)
            # linear interpolation in log FLOPs by an explicit bracket search
            xs, ys = np.log(cb.flops.to_numpy()), cb.accuracy.to_numpy()
            j = max(i for i in range(len(xs)) if xs[i] <= x)
            yb = ys[j] if j == len(xs) - 1 or xs[j] == x else ys[j] + (ys[j + 1] - ys[j]) * (x - xs[j]) / (xs[j + 1] - xs[j])
            if best is None or a - yb > best[0]:
                best = (a - yb, k)
        if best is not None:
            out[(s, big)] = best
    return out


@pytest.mark.parametrize("seed", range(5))
def test_pairs_and_grid_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 5
    ps = rng.uniform(0.05, 0.9, n)
    params = np.sort(rng.choice(np.arange(1, 200), n, replace=False)).astype(float)
    c = family(ps, params)
    c["accuracy"] = np.clip(c.accuracy + rng.normal(0, 0.02, len(c)), 0, 1)
    cr = crossings(c, n_budgets=25)
    want = brute_pairs(c, 0.03, 4)
    got = {(r.small, r.large): (r.gain, r.k) for r in cr.pairs.itertuples()}
    assert got.keys() == want.keys()
    for key, (g, k) in want.items():
        assert got[key][0] == pytest.approx(g, abs=1e-12) and got[key][1] == k
    for r in cr.grid.itertuples():
        ok = c[c.flops <= r.budget * (1 + 1e-9)]
        assert r.accuracy == ok.accuracy.max()
        first = c[c.k == 1].set_index("model")
        strongest = first[first.flops <= r.budget * (1 + 1e-9)].accuracy.max()
        assert r.weaker_wins == (r.k >= 4 and first.accuracy[r.model] + 0.03 <= strongest)
    assert set(cr.optimal_sizes) == set(cr.grid.model)


def test_summary_and_errors():
    cr = crossings(family([0.5, 0.6, 0.7], [1.0, 4.0, 16.0]))
    s = cr.summary()
    assert "winning pairs" in s and "Spearman" in s
    assert cr.optimal_sizes == ["m0", "m1", "m2"] and cr.spearman > 0.5
    with pytest.raises(ValueError, match=r"lack column\(s\) \['params'\]"):
        crossings(family([0.5], [1.0]).drop(columns="params"))
    twice = pd.concat([family([0.5], [1.0])] * 2)
    with pytest.raises(ValueError, match="more than one row for model 'm0' at k = 1"):
        crossings(twice)

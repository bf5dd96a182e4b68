"""Estimators against brute-force enumeration of every subset."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pandas as pd
import pytest
from brute import enumerate_strategies, exact_majority
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

import scaling
from scaling import estimators as est
from scaling.majority import log_comb
from scaling.matrix import to_matrices

EXACT = ["majority", "best_of_n", "pass_at_k"]


@st.composite
def tables(draw, max_problems=4, max_n=9):
    """Small sample tables: unequal counts, null answers, reward ties, one or several right answer classes
    (values in {0, 1}), or inconsistent grading (fractional class values)."""
    n_problems = draw(st.integers(1, max_problems))
    rows = []
    for p in range(n_problems):
        n = draw(st.integers(1, max_n))
        alphabet = draw(st.integers(1, 4))
        answers = draw(st.lists(st.one_of(st.none(), st.integers(0, alphabet - 1).map(str)), min_size=n, max_size=n))
        # one right answer, several right answers (unmerged equivalent forms), or noisy grading
        grading = draw(st.sampled_from(["one", "several", "noisy"]))
        if grading == "several":
            goods = draw(st.sets(st.integers(0, alphabet - 1).map(str), min_size=min(2, alphabet),
                                 max_size=alphabet))
        else:
            goods = {str(draw(st.integers(0, alphabet - 1)))}
        rewards = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.5, 1.0]), min_size=n, max_size=n))
        for i, a in enumerate(answers):
            c = (a in goods) if grading != "noisy" else (a is not None and draw(st.booleans()))
            rows.append({"task": "t", "problem_id": f"p{p}", "model": "m", "params": 1e6, "method": "sample",
                         "sample_id": i, "answer": a, "correct": bool(c), "gen_tokens": 10 + i,
                         "reward": rewards[i]})
    return pd.DataFrame(rows)


def _brute_table(df: pd.DataFrame, k: int) -> dict[str, dict[str, float]]:
    out = {}
    for pid, g in df.groupby("problem_id"):
        out[pid] = enumerate_strategies(g["answer"].tolist(), g["correct"].tolist(), g["reward"].tolist(), k)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_exact_strategies_match_enumeration(df):
    samples = scaling.validate(df)
    n_max = int(samples.groupby("problem_id").size().max())
    ks = list(range(1, n_max + 1))
    pp = scaling.evaluate(samples, strategies=EXACT, ks=ks, n_boot=0, extrapolate=()).per_problem
    for k in ks:
        brute = _brute_table(df, k)
        got = pp[pp.k == k]
        for row in got.itertuples():
            assert row.accuracy == pytest.approx(brute[row.problem_id][row.strategy], abs=1e-12), (k, row)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_problems=2, max_n=7))
def test_weighted_majority_monte_carlo_is_unbiased(df):
    samples = scaling.validate(df)
    n_max = int(samples.groupby("problem_id").size().max())
    pp = scaling.evaluate(samples, strategies=["weighted_majority"], ks=range(1, n_max + 1), n_boot=0,
                          n_draws=2000, extrapolate=()).per_problem
    for row in pp.itertuples():
        exact = _brute_table(df, row.k)[row.problem_id]["weighted_majority"]
        se = np.sqrt(row.mc_var) if np.isfinite(row.mc_var) else 0.0
        assert abs(row.accuracy - exact) <= 5 * se + 1e-9, (row, exact)


def test_majority_exact_on_larger_problems_against_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(6):
        n = 16
        answers = [None if u < 0.1 else str(int(c)) for u, c in zip(rng.random(n), rng.integers(0, 4, n),
                                                                     strict=True)]
        correct = [a == "1" for a in answers]
        df = pd.DataFrame({"task": "t", "problem_id": "p", "model": "m", "params": 1.0, "method": "sample",
                           "sample_id": range(n), "answer": answers, "correct": correct, "gen_tokens": 1})
        m = to_matrices(scaling.validate(df))[0]
        for k in (1, 3, 7, 8, 12, 15, 16):
            brute = enumerate_strategies(answers, correct, [0.0] * n, k)["majority"]
            assert est.majority_at_k(m.codes, m.class_value, m.n, k)[0] == pytest.approx(brute, abs=1e-12)


def test_majority_exact_agrees_with_monte_carlo_at_scale():
    """256 solutions, up to 30 classes: the exact value sits within Monte-Carlo error of sampling."""
    rng = np.random.default_rng(0)
    p, s = 40, 256
    codes = np.empty((p, s), dtype=np.int64)
    value = np.zeros((p, 30))
    for i in range(p):
        c = rng.integers(2, 31)
        codes[i] = rng.choice(c, size=s, p=rng.dirichlet(np.full(c, 0.5)))
        value[i, rng.integers(0, c)] = 1.0
    codes[rng.random((p, s)) < 0.05] = -1
    n = np.full(p, s)
    for k in (2, 16, 64, 200):
        exact = est.majority_at_k(codes, value, n, k)
        mc = est.monte_carlo(codes, value, [k], 4000, np.random.default_rng(k))[k]
        # a unit whose draws were all equal has zero sample variance: allow the ~1/N resolution of MC
        tol = 5.5 * np.sqrt(mc[1] / 4000) + 5 / 4000
        assert np.all(np.abs(exact - mc[0]) < tol), (k, np.abs(exact - mc[0]).max())
        assert abs(exact.mean() - mc[0].mean()) < 4 * np.sqrt((mc[1] / 4000).sum()) / p + 1e-9


def test_pass_at_k_stable_extremes():
    n = np.array([1024, 1024, 10])
    c = np.array([1, 1023, 0])
    got = est.pass_at_k(n, c, 1)
    assert got == pytest.approx([1 / 1024, 1023 / 1024, 0.0], rel=1e-14)
    assert est.pass_at_k(np.array([1024]), np.array([1]), 512)[0] == pytest.approx(0.5, rel=1e-14)


def test_best_of_k_tie_split_hand_case():
    # rewards 1, 1, 0.5 with correctness T, F, T: best of 3 is a tie between the two 1's -> 0.5
    reward = np.array([[1.0, 1.0, 0.5]])
    correct = np.array([[True, False, True]])
    assert est.best_of_k(reward, correct, np.array([3]), 3)[0] == pytest.approx(0.5)
    # k = 1: mean correctness 2/3; k = 2: subsets {0,1}:0.5 {0,2}:1 {1,2}:0 -> 0.5
    assert est.best_of_k(reward, correct, np.array([3]), 1)[0] == pytest.approx(2 / 3)
    assert est.best_of_k(reward, correct, np.array([3]), 2)[0] == pytest.approx(0.5)


def test_null_answers_never_win():
    df = pd.DataFrame({"task": "t", "problem_id": "p", "model": "m", "params": 1.0, "method": "sample",
                       "sample_id": range(4), "answer": [None, None, None, "5"], "correct": [False] * 3 + [True],
                       "gen_tokens": 1})
    pp = scaling.evaluate(scaling.validate(df), strategies=["majority"], ks=[1, 2, 4], extrapolate=()).per_problem
    # majority wins exactly when the one answered solution is in the subset
    assert pp.set_index("k").accuracy.to_dict() == pytest.approx({1: 0.25, 2: 0.5, 4: 1.0})


def test_k_beyond_a_problems_count_uses_all_its_solutions():
    rows = []
    for pid, n in (("a", 2), ("b", 8)):
        for i in range(n):
            rows.append({"task": "t", "problem_id": pid, "model": "m", "params": 1e9, "method": "sample",
                         "sample_id": i, "answer": str(i % 2), "correct": i % 2 == 0, "gen_tokens": 100})
    samples = scaling.validate(pd.DataFrame(rows))
    curves = scaling.evaluate(samples, strategies=["pass_at_k"], ks=[4], n_boot=0, extrapolate=()).curves
    row = curves.iloc[0]
    assert row.n_capped == 1
    # problem a uses its 2 solutions (pass = 1, cost 2 solutions), b 4 of 8 (pass = 1 - C(4,4)/C(8,4))
    assert row.accuracy == pytest.approx((1.0 + (1 - 1 / 70)) / 2)
    assert row.flops == pytest.approx((2 * 2e11 + 4 * 2e11) / 2)
    # the default ks stop at the smallest problem's count
    assert scaling.evaluate(samples, strategies=["pass_at_k"], n_boot=0, extrapolate=()).curves.k.max() == 2


def _codes(counts, nulls, width=None):
    """One unit's codes row: class i repeated counts[i] times, then nulls, then padding."""
    row = np.concatenate([np.full(c, i) for i, c in enumerate(counts)] + [np.full(nulls, -1)]).astype(np.int64)
    width = len(row) if width is None else width
    return np.concatenate([row, np.full(width - len(row), -2)])


def test_majority_with_several_right_classes_is_exact():
    """Issue 12: two classes graded right used to raise IndexError (counts 42 and 19, 195 nulls)."""
    codes = _codes([42, 19], 195)[None, :]
    n = np.array([256])
    for k in (2, 16, 64, 128, 255):
        # any answered solution in the subset makes a right class win
        exact = 1 - Fraction(comb(195, k), comb(256, k))
        got = est.majority_at_k(codes, np.array([[1.0, 1.0]]), n, k)[0]
        assert got == pytest.approx(float(exact), abs=2e-15), k
    # with a wrong class between them, against exact rational arithmetic
    codes = _codes([42, 19, 30], 165)[None, :]
    got = est.majority_at_k(codes, np.array([[1.0, 1.0, 0.0]]), n, 16)[0]
    assert got == pytest.approx(float(exact_majority([42, 19, 30], 165, [1, 1, 0], 16)), abs=1e-14)


def test_majority_matches_exact_rationals():
    """n = 20-60, 2-8 classes, nulls, several right classes or fractional values, every kind of k:
    within 2e-15 of exact rational arithmetic (0.1.0's gammaln kernel was off by up to 5e-14 here).
    Units are padded to one width and evaluated in chunks of 5, as evaluate's matrices are."""
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(24):
        n = int(rng.integers(20, 61))
        c = int(rng.integers(2, 9))
        draw = rng.choice(c, size=n, p=rng.dirichlet(np.full(c, 0.7)))
        draw[rng.random(n) < 0.1] = -1
        counts = np.bincount(draw[draw >= 0], minlength=c)
        value = (rng.random(c) < 0.35).astype(float)
        if rng.random() < 0.2:
            value = rng.choice([0.0, 0.5, 1.0], size=c)
        value[rng.integers(c)] = 1.0
        cases.append((counts, int((draw < 0).sum()), value))
    width = max(int(c.sum()) + z for c, z, _ in cases)
    codes = np.stack([_codes(c, z, width) for c, z, _ in cases])
    value = np.zeros((len(cases), 8))
    for i, (_, _, v) in enumerate(cases):
        value[i, :len(v)] = v
    n = (codes != -2).sum(axis=1)
    ks = [1, 2, 3, 5, 8, 13, 21, 30, 40, 50, 59]
    got = est.majority_at_ks(codes, value, n, ks, max_elems=64 * width * 5)
    worst = 0.0
    for i, (counts, nulls, v) in enumerate(cases):
        for k in ks:
            exact = exact_majority(list(counts), nulls, [Fraction(x) for x in v], k)
            worst = max(worst, abs(got[k][i] - float(exact)))
    assert worst <= 2e-15, worst


def test_majority_at_ks_equals_per_k_calls():
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 6, size=(30, 64))
    value = np.zeros((30, 6))
    value[np.arange(30), rng.integers(0, 6, 30)] = 1.0
    n = np.full(30, 64)
    ks = [1, 2, 7, 32, 63, 64, 100]
    many = est.majority_at_ks(codes, value, n, ks)
    for k in ks:
        assert np.array_equal(many[k], est.majority_at_k(codes, value, n, k))


def test_log_comb_is_correctly_rounded():
    import decimal
    ctx = decimal.Context(prec=40)
    a = np.array([5, 60, 256, 1000, 1024, 1024, 3000, 5000])
    b = np.array([2, 30, 16, 500, 1, 512, 1499, 2])
    got = log_comb(a, b)
    for ai, bi, g in zip(a, b, got, strict=True):
        ref = float(ctx.ln(decimal.Decimal(comb(int(ai), int(bi)))))
        assert abs(g - ref) <= np.spacing(ref), (ai, bi, g, ref)
    assert np.isneginf(log_comb(np.array([3, 3]), np.array([4, -1]))).all()
    # log_binom: integers take the exact table, floats the log-gamma form
    assert est.log_binom(np.array([1024]), 512)[0] == got[5]
    assert est.log_binom(np.array([1024.0]), 512.0)[0] == pytest.approx(got[5], rel=1e-13)


class _TieHeavyBits:
    """A bit generator whose random parts take only 4 values: keys tie all the time."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)
        self.bit_generator = self

    def random_raw(self, size):
        lo = self._rng.integers(0, 4, size=size, dtype=np.uint64) << np.uint64(30)
        return lo | (self._rng.integers(0, 4, size=size, dtype=np.uint64) << np.uint64(62))


@pytest.mark.parametrize("rng", [np.random.default_rng(0), _TieHeavyBits(0)], ids=["pcg64", "tie-heavy"])
def test_uniform_prefixes_are_exactly_uniform(rng):
    """Every ordered pair (first two of a permutation of 4) is equally likely, even when keys tie
    constantly (ties are redrawn, never broken by index, which would favour small indices first)."""
    draws = est.uniform_prefixes(48_000, 4, 2, rng)
    assert ((draws >= 0) & (draws < 4)).all() and (draws[:, 0] != draws[:, 1]).all()
    freq = np.bincount(draws[:, 0] * 4 + draws[:, 1], minlength=16)[[i * 4 + j for i in range(4)
                                                                    for j in range(4) if i != j]]
    assert chisquare(freq).pvalue > 1e-3, freq
    full = est.uniform_prefixes(2000, 7, 7, np.random.default_rng(1))
    assert (np.sort(full, axis=1) == np.arange(7)).all()


def test_weighted_monte_carlo_edge_cases():
    codes = np.array([[0, 1, 0, -1, -2], [1, 1, 0, 0, 2]])
    reward = np.array([[1.0, 3.0, 1.0, 0.5, np.nan], [0.2, 0.2, 0.2, 0.2, 0.9]])
    value = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    one = est.weighted_majority_mc(codes, reward, value, [1, 2, 4, 5], n_draws=1)
    for mean, var in one.values():
        assert np.isfinite(mean).all() and (var == 0).all()
    # k >= n is the exact vote of all: unit 0 (n = 4): a 2.0 vs b 3.0 -> 0; unit 1: 0.4 / 0.4 / 0.9 -> 0
    assert one[5][0].tolist() == [0.0, 0.0]
    # k = 1 exact: mean value of the solutions
    assert one[1][0] == pytest.approx([0.5, 0.4])


def test_random_prefix_masses_count_every_solution_at_k_equal_n():
    codes = np.array([[0, 1, 1, -1, -2], [2, 2, 0, 1, 1]])
    weights = np.array([[0.5, 1.0, 2.0, 9.0, np.nan], [1.0, 1.0, 1.0, 1.0, 1.0]])
    for k, mass, count in est.random_prefix_masses(codes, weights, 3, [2, 5], 7, np.random.default_rng(0)):
        assert count.sum(axis=2).max() <= k
        if k == 5:   # every solution: the unit's class counts and reward sums in every draw
            assert (count == np.array([[1, 2, 0], [1, 2, 2]])[:, None, :]).all()
            assert np.allclose(mass, np.array([[0.5, 3.0, 0.0], [1.0, 2.0, 2.0]])[:, None, :])

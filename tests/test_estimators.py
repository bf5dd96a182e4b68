"""Estimators against brute-force enumeration of every subset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brute import enumerate_strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scaling
from scaling import estimators as est
from scaling.matrix import to_matrices

EXACT = ["majority", "best_of_n", "pass_at_k"]


@st.composite
def tables(draw, max_problems=4, max_n=9):
    """Small sample tables: unequal counts, null answers, reward ties, sometimes inconsistent grading."""
    n_problems = draw(st.integers(1, max_problems))
    rows = []
    for p in range(n_problems):
        n = draw(st.integers(1, max_n))
        alphabet = draw(st.integers(1, 4))
        answers = draw(st.lists(st.one_of(st.none(), st.integers(0, alphabet - 1).map(str)), min_size=n, max_size=n))
        good = str(draw(st.integers(0, alphabet - 1)))
        consistent = draw(st.booleans())
        rewards = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.5, 1.0]), min_size=n, max_size=n))
        for i, a in enumerate(answers):
            c = (a == good) if consistent else (a is not None and draw(st.booleans()))
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

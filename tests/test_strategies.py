"""scaling.strategies: each strategy's per-problem value of one matrix group against brute-force enumeration
of every size-k subset (tests/brute.py), tree-search and greedy groups, and the errors naming the group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brute import enumerate_strategies

from scaling.matrix import to_matrices
from scaling.schema import SchemaError, validate
from scaling.strategies import default_ks, evaluate_matrix, limits_frame


def _table(problems: dict, method: str = "sample", reward: bool = True, **extra) -> pd.DataFrame:
    """problems: id -> list of (answer, correct, reward)."""
    rows = []
    for pid, sols in problems.items():
        for i, (a, c, r) in enumerate(sols):
            row = {"task": "t", "problem_id": pid, "model": "m", "params": 1e6, "method": method, "sample_id": i,
                   "answer": a, "correct": c, "gen_tokens": 10 + i}
            if reward:
                row["reward"] = r
            rows.append({**row, **extra})
    return validate(pd.DataFrame(rows))


PROBLEMS = {
    "p0": [("1", True, 0.9), ("2", False, 0.8), ("2", False, 0.1), ("1", True, 0.3), (None, False, 0.5)],
    "p1": [("7", False, 0.2), ("8", True, 0.7), ("7", False, 0.6), ("9", False, 0.6), ("8", True, 0.1), ("7", False, 0.9)],
    "p2": [("5", True, 0.4), ("5", True, 0.4), ("6", False, 0.4), ("6", False, 0.2)],
}


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_exact_strategies_equal_enumeration_of_every_subset(k):
    m = to_matrices(_table(PROBLEMS))[0]
    recs = {r["strategy"]: r for r in evaluate_matrix(m, ["majority", "best_of_n", "pass_at_k"], ks=[k])}
    for j, pid in enumerate(m.problem_ids):
        a, c, r = zip(*PROBLEMS[pid], strict=True)
        want = enumerate_strategies(list(a), list(c), list(r), k)
        for s in ("majority", "best_of_n", "pass_at_k"):
            assert recs[s]["values"][j] == pytest.approx(want[s], abs=1e-12), (s, pid, k)


def test_weighted_majority_monte_carlo_is_near_enumeration_and_exact_at_the_whole_set():
    m = to_matrices(_table(PROBLEMS))[0]
    recs = evaluate_matrix(m, ["weighted_majority"], ks=[2, 4], n_draws=4000, seed=3)
    for r in recs:
        for j, pid in enumerate(m.problem_ids):
            a, c, w = zip(*PROBLEMS[pid], strict=True)
            want = enumerate_strategies(list(a), list(c), list(w), r["k"])["weighted_majority"]
            assert abs(r["values"][j] - want) <= 5 * np.sqrt(r["var"][j]) + 1e-9
        assert (r["var"][m.n <= r["k"]] == 0).all()         # the whole set: no sampling noise


def test_cost_and_capping_follow_k_per_problem():
    m = to_matrices(_table(PROBLEMS))[0]
    (r,) = evaluate_matrix(m, ["pass_at_k"], ks=[5])
    r5 = dict(zip(m.problem_ids, r["capped"], strict=True))
    assert not r5["p0"] and r5["p2"]
    per_sol = m.unit_flops / m.n
    assert np.allclose(r["flops"], np.minimum(5, m.n) * per_sol + m.prompt_flops)


def test_default_ks_are_powers_of_two_plus_the_smallest_count():
    assert default_ks(np.array([6, 9])) == [1, 2, 4, 6]
    assert default_ks(np.array([8])) == [1, 2, 4, 8]


def test_tree_search_uses_every_solution_of_a_run():
    m = to_matrices(_table(PROBLEMS, method="rebase", run_id="r0", budget=8, run_gen_tokens=100))[0]
    recs = {r["strategy"]: r for r in evaluate_matrix(m, ["majority", "pass_at_k", "best_of_n"])}
    for j, pid in enumerate(m.problem_ids):
        a, c, r = zip(*PROBLEMS[pid], strict=True)
        want = enumerate_strategies(list(a), list(c), list(r), len(a))
        assert recs["majority"]["values"][j] == pytest.approx(want["majority"])
        assert recs["best_of_n"]["values"][j] == pytest.approx(want["best_of_n"])
    assert {r["k"] for r in recs.values()} == {8}


def test_a_reward_strategy_without_rewards_names_the_group():
    m = to_matrices(_table(PROBLEMS, reward=False))[0]
    with pytest.raises(SchemaError, match=r"'best_of_n' needs rewards.*model 'm'.*method 'sample'"):
        evaluate_matrix(m, ["best_of_n"], ks=[1])
    assert {r["strategy"] for r in evaluate_matrix(m, None, ks=[1])} == {"majority", "pass_at_k"}


def test_negative_rewards_are_refused_by_weighted_voting():
    bad = {pid: [(a, c, r - 1.0) for a, c, r in sols] for pid, sols in PROBLEMS.items()}
    m = to_matrices(_table(bad))[0]
    with pytest.raises(ValueError, match="rewards must be >= 0"):
        evaluate_matrix(m, ["weighted_majority"], ks=[2])


def test_plug_in_limit_is_the_winner_of_the_whole_distribution():
    m = to_matrices(_table(PROBLEMS))[0]
    lim = limits_frame(m, []).query("strategy == 'majority'").set_index("problem_id")
    # p0: '1' and '2' tie 2-2 -> 0.5; p1: '7' has 3 of 6 -> 0; p2: 2-2 tie -> 0.5
    assert lim.loc[["p0", "p1", "p2"], "limit"].tolist() == [0.5, 0.0, 0.5]
    assert lim.loc["p1", "margin"] == pytest.approx(2 / 6 - 3 / 6)

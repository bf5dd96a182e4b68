"""scaling.workers: shards that depend on the group only, merged records, and equal results in processes."""

from __future__ import annotations

import numpy as np
import pytest

from scaling import workers
from scaling.matrix import to_matrices
from scaling.strategies import evaluate_matrix
from scaling.synthetic import make_world, sample_table


def _square(x):
    return x * x


@pytest.fixture(scope="module")
def matrix():
    return to_matrices(sample_table(make_world(300, seed=2), 16))[0]


def test_shards_cover_every_unit_once_and_ignore_the_worker_count(matrix, monkeypatch):
    monkeypatch.setattr(workers, "SHARD_CELLS", 1000)
    parts = workers.shards(matrix)
    assert len(parts) == -(-matrix.shape[0] * matrix.shape[1] // 1000)
    assert np.array_equal(np.concatenate(parts), np.arange(matrix.shape[0]))


def test_merged_shards_equal_the_whole_group_for_exact_strategies(matrix, monkeypatch):
    monkeypatch.setattr(workers, "SHARD_CELLS", 1000)
    whole = evaluate_matrix(matrix, ["majority", "pass_at_k"], ks=[1, 4])
    parts = [evaluate_matrix(matrix.take(r), ["majority", "pass_at_k"], ks=[1, 4]) for r in workers.shards(matrix)]
    merged = workers.merge_records(parts)
    for a, b in zip(whole, merged, strict=True):
        assert (a["strategy"], a["k"]) == (b["strategy"], b["k"])
        assert np.array_equal(a["values"], b["values"]) and np.array_equal(a["problem_ids"], b["problem_ids"])


def test_processes_return_results_in_submission_order():
    calls = [(1.0 * i, _square, (i,)) for i in range(7)]
    assert workers.run(calls, n_jobs=2) == workers.run(calls, n_jobs=1) == [i * i for i in range(7)]


def test_shard_seeds_differ_between_shards_and_groups():
    assert workers.shard_seed(5, 1, 0, 1) == 6
    assert workers.shard_seed(5, 1, 0, 3) != workers.shard_seed(5, 1, 1, 3)

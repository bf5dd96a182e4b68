"""scaling.matrix: a sample table as (problems x solutions) arrays, checked cell by cell against the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling.matrix import NULL, PAD, class_mass, to_matrices
from scaling.schema import SchemaError, validate


def _rows() -> pd.DataFrame:
    # p0: 3 solutions, answers 7, 7, null; p1: 2 solutions, answers 3 (right once, wrong once: a noisy grader), 4
    data = [("p0", 0, "7", True, 0.9), ("p0", 2, None, False, 0.1), ("p0", 1, "7", True, 0.5),
            ("p1", 0, "3", True, 0.2), ("p1", 1, "3", False, 0.4), ("p1", 2, "4", False, 0.8)]
    rows = [{"task": "t", "problem_id": p, "model": "m", "params": 1e6, "method": "sample", "sample_id": s,
             "answer": a, "correct": c, "gen_tokens": 10 * (s + 1), "reward": r, "difficulty": p[-1]}
            for p, s, a, c, r in data]
    rows = rows[:2] + rows[3:] + [rows[2]]              # row order must not matter
    return validate(pd.DataFrame(rows))


def test_cells_follow_the_rows_sorted_by_sample_id():
    (m,) = to_matrices(_rows())
    assert m.problem_ids.tolist() == ["p0", "p1"] and m.n.tolist() == [3, 3]
    c = m.codes
    assert c[0, 0] == c[0, 1] >= 0 and c[0, 2] == NULL
    assert c[1, 0] == c[1, 1] >= 0 and c[1, 2] >= 0 and c[1, 2] != c[1, 0]
    assert m.reward.tolist() == [[0.9, 0.5, 0.1], [0.2, 0.4, 0.8]]
    assert m.flops[0].tolist() == pytest.approx([f * 2 * 1e6 for f in (10, 20, 30)])   # 2·N·T_gen
    assert m.class_value[1, c[1, 0]] == 0.5          # the class's mean correctness
    assert m.class_value[0, c[0, 0]] == 1.0


def test_units_with_fewer_solutions_are_padded():
    t = _rows()
    (m,) = to_matrices(t[~((t.problem_id == "p1") & (t.sample_id == 2))])
    assert m.n.tolist() == [3, 2] and m.codes[1, 2] == PAD and not m.correct[1, 2] and np.isnan(m.reward[1, 2])


def test_class_mass_equals_a_count_per_class():
    rng = np.random.default_rng(0)
    codes = rng.integers(-2, 4, size=(6, 9))
    w = rng.random((6, 9))
    got = class_mass(codes, w, 4)
    for p in range(6):
        for k in range(4):
            assert got[p, k] == pytest.approx(w[p][codes[p] == k].sum())
    assert (class_mass(codes, None, 4) == np.stack([(codes == k).sum(axis=1) for k in range(4)], axis=1)).all()


def test_by_groups_and_a_by_column_that_varies_within_a_problem_is_named():
    assert [m.key["difficulty"] for m in to_matrices(_rows(), by="difficulty")] == ["0", "1"]
    t = _rows().copy()
    t.loc[t.index[0], "difficulty"] = "9"
    with pytest.raises(SchemaError, match=r"by='difficulty' must be constant within a problem; problem .*p0"):
        to_matrices(validate(t), by="difficulty")

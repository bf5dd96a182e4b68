"""scaling.schema: the sample-table contract: typed columns, and errors that name the column, the row and
what was expected (errors met through files are in test_samples.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scaling
from scaling.schema import CONTRACT, CONTRACT_DOC, check_sample_table


def table(n_problems=3, n=4) -> pd.DataFrame:
    return pd.DataFrame([{"task": "gsm8k", "problem_id": f"p{p}", "model": "m", "params": 1e9, "method": "sample",
                          "sample_id": i, "answer": str(i % 2), "correct": i % 2 == 0, "gen_tokens": 100 + i,
                          "prompt_tokens": 50} for p in range(n_problems) for i in range(n)])


def test_validated_columns_typed_once_and_shared():
    """Strings: one object per distinct value, None for null, integers as decimal strings; lists: float
    arrays kept as they are, other sequences converted, a non-finite value named by its row."""
    raw = table()
    raw["answer"] = pd.Series([None if i == 2 else i % 2 for i in range(len(raw))], dtype=object)
    raw.loc[2, "correct"] = False
    arrays = [np.array([0.1, 0.9]) for _ in range(len(raw))]
    raw["step_rewards"] = pd.Series(arrays, dtype=object)
    raw.loc[3, "step_rewards"] = None
    raw.loc[4, "step_rewards"] = [1, 2]                        # ints: converted to a float array
    got = scaling.validate(raw)
    assert got.answer.tolist()[:4] == ["0", "1", None, "1"] and got.answer.dtype == object
    assert len({id(v) for v in got.task}) == 1 and len({id(v) for v in got.problem_id}) == 3
    assert got.step_rewards[0] is arrays[0] and got.step_rewards[3] is None and got.step_rewards[4].dtype == float
    assert list(got.step_rewards[4]) == [1.0, 2.0]
    again = scaling.validate(got)                              # already typed: the arrays are kept
    assert all(a is b for a, b in zip(again.step_rewards, got.step_rewards, strict=True))
    bad = got.copy()
    bad["step_rewards"] = [np.array([0.5, np.nan]) if i == 7 else v for i, v in enumerate(got.step_rewards)]
    with pytest.raises(scaling.SchemaError, match=r"step_rewards.*finite numbers.*first is row 7"):
        scaling.validate(bad)


@pytest.mark.parametrize("column, value, row, words", [
    ("problem_id", "", 5, "non-empty string"),
    ("reward", np.inf, 3, "finite number"),
    ("gen_tokens", 1.5, 6, "fraction"),
    ("params", 0.0, 0, "positive parameter count"),
    ("method", None, 2, "non-empty string, found null"),
])
def test_a_bad_cell_names_its_column_its_row_and_what_was_expected(column, value, row, words):
    t = table()
    if column == "reward":
        t["reward"] = 0.5
    t[column] = t[column].astype(object)
    t.loc[row, column] = value
    with pytest.raises(scaling.SchemaError) as err:
        scaling.validate(t, source="my.parquet")
    msg = str(err.value)
    assert msg.startswith("my.parquet:") and f"column {column!r}" in msg and words in msg
    if column != "params":                    # params: every row of the model is named
        assert f"first is row {row}" in msg


def test_a_table_that_is_not_a_sample_table_points_to_the_contract():
    with pytest.raises(scaling.SchemaError) as err:
        check_sample_table(table().drop(columns=["gen_tokens", "correct"]))
    assert "correct" in str(err.value) and "gen_tokens" in str(err.value)
    assert set(CONTRACT) >= {"task", "problem_id", "model", "params", "method", "sample_id", "answer",
                             "correct", "gen_tokens"}
    assert "help(scaling.schema)" in CONTRACT_DOC


def test_validation_keeps_the_values():
    t = table()
    got = scaling.validate(t)
    assert got.gen_tokens.tolist() == t.gen_tokens.tolist() and got.correct.tolist() == t.correct.tolist()
    assert got.answer.tolist() == t.answer.tolist()

"""Reading and validating sample tables; compute accounting."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import scaling
from scaling.flops import Compute, row_flops, solution_flops

SHARED = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "data"


def table(n_problems=3, n=4, **over) -> pd.DataFrame:
    rows = []
    for p in range(n_problems):
        for i in range(n):
            rows.append({"task": "gsm8k", "problem_id": f"p{p}", "model": "m", "params": 1e9, "method": "sample",
                         "sample_id": i, "answer": str(i % 2), "correct": i % 2 == 0, "gen_tokens": 100 + i,
                         "prompt_tokens": 50})
    df = pd.DataFrame(rows)
    for k, v in over.items():
        df[k] = v
    return df


def test_roundtrip_parquet_and_jsonl(tmp_path):
    df = scaling.validate(table())
    df["step_rewards"] = [[0.1, 0.9]] * len(df)
    scaling.write_samples(df, tmp_path / "a" / "t.parquet")
    other = table()
    other["model"] = "m2"
    other["params"] = 2e9
    other.to_json(tmp_path / "b.jsonl", orient="records", lines=True)
    got = scaling.read_samples(tmp_path)
    assert len(got) == 2 * len(df)
    assert set(got.model) == {"m", "m2"}
    assert list(got.step_rewards.iloc[0]) == [0.1, 0.9]
    assert got.gen_tokens.dtype == np.int64


def test_parquet_written_with_zstd_and_read_back_exactly(tmp_path):
    import pyarrow.parquet as pq

    df = scaling.validate(table(n_problems=5, n=8))
    df["reward"] = np.random.default_rng(0).random(len(df))
    df["step_rewards"] = [[5e-324, float(r)] for r in df.reward]   # a subnormal survives (no float32)
    path = scaling.write_samples(df, tmp_path / "t.parquet")
    meta = pq.ParquetFile(path).metadata.row_group(0)
    assert {meta.column(j).compression for j in range(meta.num_columns)} == {"ZSTD"}
    got = scaling.read_samples(path)
    pd.testing.assert_frame_equal(got, df)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask   # like a file open() creates, not mkstemp's 0600


def test_directory_skips_task_text_and_tree_folders(tmp_path):
    scaling.write_samples(table(), tmp_path / "samples" / "x.parquet")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "gsm8k.jsonl").write_text(json.dumps({"question": "q", "answer": "1"}) + "\n")
    (tmp_path / "samples" / "texts").mkdir()
    (tmp_path / "samples" / "texts" / "x.jsonl").write_text(json.dumps({"text": "t"}) + "\n")
    assert len(scaling.read_samples(tmp_path)) == 12


@pytest.mark.parametrize("mutate, column, words", [
    (lambda d: d.drop(columns=["correct"]), "correct", "missing contract column"),
    (lambda d: d.assign(gen_tokens=d.gen_tokens.where(d.index != 5, -3)), "gen_tokens", "non-negative"),
    (lambda d: d.assign(gen_tokens=d.gen_tokens.astype(object).where(d.index != 2, "many")), "gen_tokens",
     "integer"),
    (lambda d: d.assign(params=np.where(d.index == 7, 2e9, 1e9)), "params", "differs within model"),
    (lambda d: d.assign(answer=d.answer.where(d.index != 0, None)), "correct", "answer' is null"),
    (lambda d: pd.concat([d, d.iloc[[3]]]), None, "duplicate key"),
    (lambda d: d.assign(correct=d.correct.astype(object).where(d.index != 4, "yes")), "correct", "boolean"),
    (lambda d: d.assign(method="rebase"), "run_id", "tree-search"),
])
def test_schema_errors_name_file_column_and_row(tmp_path, mutate, column, words):
    path = tmp_path / "bad.jsonl"
    mutate(table()).to_json(path, orient="records", lines=True)
    with pytest.raises(scaling.SchemaError) as err:
        scaling.read_samples(path)
    msg = str(err.value)
    assert str(path) in msg and words in msg
    if column:
        assert column in msg
    if "row" in msg:
        assert "first is row" in msg or "missing" in msg


def test_params_conflict_across_files_is_caught(tmp_path):
    scaling.write_samples(table(), tmp_path / "a.parquet")
    other = table().assign(params=3e9, task="math")
    scaling.write_samples(other, tmp_path / "b.parquet")
    with pytest.raises(scaling.SchemaError, match="differs within model 'm'"):
        scaling.read_samples(tmp_path)


def test_a_duplicate_key_across_files_is_caught(tmp_path):
    scaling.write_samples(table(), tmp_path / "a.parquet")
    scaling.write_samples(table(), tmp_path / "b.parquet")
    with pytest.raises(scaling.SchemaError, match="duplicate key"):
        scaling.read_samples(tmp_path)


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(scaling.SchemaError, match="no sample tables"):
        scaling.read_samples(tmp_path)


def test_reward_strategy_without_rewards_names_it():
    samples = scaling.validate(table())
    with pytest.raises(scaling.SchemaError, match="'best_of_n' needs rewards"):
        scaling.evaluate(samples, strategies=["best_of_n"])
    # by default only the strategies the data supports are evaluated
    assert set(scaling.evaluate(samples, n_boot=10, extrapolate=()).curves.strategy) == {"majority", "pass_at_k"}


def test_paper_table4_greedy_flops():
    # Llemma-7B greedy on MATH500: 3.92e12 FLOPs = 2 x 6.74e9 x ~291 tokens; 34B: 19.0e12 = 2 x 34e9 x ~279
    assert solution_flops(6.74e9, 291) == pytest.approx(3.92e12, rel=0.002)
    assert solution_flops(6.74e9, 171) == pytest.approx(2.30e12, rel=0.003)     # GSM8K
    assert solution_flops(34e9, 279) == pytest.approx(19.0e12, rel=0.002)
    # sampling n costs exactly n times greedy (Table 4's convention)
    df = scaling.validate(table(n_problems=1, n=4).assign(gen_tokens=291, params=6.74e9))
    curves = scaling.evaluate(df, strategies=["majority"], ks=[1, 4], n_boot=0, extrapolate=()).curves
    assert curves.set_index("k").flops.to_dict() == pytest.approx({1: 3.92268e12, 4: 4 * 3.92268e12})


def test_compute_switches():
    df = scaling.validate(table(n_problems=1, n=2).assign(reward=0.5, reward_params=1e8))
    base = row_flops(df)
    assert np.allclose(base.flops, 2e9 * df.gen_tokens)
    per_sample = row_flops(df, "prompt=per_sample")
    assert np.allclose(per_sample.flops, 2e9 * (df.gen_tokens + 50))
    per_problem = row_flops(df, Compute(prompt="per_problem"))
    assert np.allclose(per_problem.prompt_flops, 2e9 * 50) and np.allclose(per_problem.flops, base.flops)
    att = row_flops(df, Compute(attention={"m": (24, 2048)}))
    g = df.gen_tokens.to_numpy()
    assert np.allclose(att.flops, 2e9 * g + 2 * 24 * 2048 * (g * 50 + g * (g - 1) / 2))
    rw = row_flops(df, "reward")
    assert np.allclose(rw.flops, base.flops + 2 * 1e8 * (g + 50))
    # per-problem prompt is charged once per problem in evaluate
    curves = scaling.evaluate(df, strategies=["pass_at_k"], ks=[1, 2], flops="prompt=per_problem", n_boot=0,
                              extrapolate=()).curves
    assert curves.set_index("k").flops[2] == pytest.approx(2e9 * (g.sum() + 50))
    with pytest.raises(ValueError, match="unknown compute switch"):
        Compute.parse("bogus")


def test_tree_rows_use_run_tokens_and_budget():
    rows = []
    for run in range(2):
        for i in range(4):
            rows.append({"task": "t", "problem_id": "p", "model": "m", "params": 1e9, "method": "rebase",
                         "sample_id": i, "answer": "1" if i < 3 - run else "2", "correct": i < 3 - run,
                         "gen_tokens": 100, "run_id": f"r{run}", "budget": 4, "run_gen_tokens": 500 + 100 * run,
                         "reward": 0.5})
    curves = scaling.evaluate(scaling.validate(pd.DataFrame(rows)), n_boot=0).curves
    maj = curves.query("strategy == 'majority'").iloc[0]
    assert maj.k == 4 and maj.flops == pytest.approx(2e9 * 550)
    # run 0: "1" x3 beats "2" -> 1; run 1: "1" x2 ties "2" x2 -> 0.5
    assert maj.accuracy == pytest.approx(0.75)


def test_limits_plug_in():
    rows = []
    for pid, answers in (("a", ["1", "1", "2"]), ("b", ["1", "2", "2"]), ("c", ["1", "2", None])):
        for i, a in enumerate(answers):
            rows.append({"task": "t", "problem_id": pid, "model": "m", "params": 1.0, "method": "sample",
                         "sample_id": i, "answer": a, "correct": a == "1", "gen_tokens": 1,
                         "reward": [0.9, 0.1, 0.5][i]})
    samples = scaling.validate(pd.DataFrame(rows))
    lim = scaling.limits(samples).set_index("strategy")
    assert lim.loc["majority", "limit"] == pytest.approx((1 + 0 + 0.5) / 3)
    # weighted: a: 1.0 vs 0.5 -> 1; b: 0.9 vs 0.6 -> 1; c: 0.9 vs 0.1 -> 1
    assert lim.loc["weighted_majority", "limit"] == pytest.approx(1.0)
    pp = scaling.limits(samples, per_problem=True).query("strategy == 'majority'").set_index("problem_id")
    assert pp.margin.to_dict() == pytest.approx({"a": 1 / 3, "b": -1 / 3, "c": 0.0})


@pytest.mark.skipif(not (SHARED / "reference" / "qwen25_math_cot_100.jsonl").exists(), reason="shared data")
def test_convert_list_per_problem_jsonl():
    df = scaling.from_list_jsonl(SHARED / "reference" / "qwen25_math_cot_100.jsonl", task="math",
                                 model="Qwen2.5-Math-7B-Instruct", params=7.62e9, reward_transform="sigmoid")
    assert len(df) == 800 and df.problem_id.nunique() == 100
    assert df.reward.between(0, 1).all() and df.gen_tokens.min() > 0
    curves = scaling.evaluate(df, n_boot=100).curves
    maj8 = curves.query("strategy == 'majority' and k == 8").accuracy.iloc[0]
    assert 0.85 < maj8 < 1.0

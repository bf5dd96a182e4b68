"""End-to-end collection runs on tiny random models: sample/score commands, resume after SIGKILL,
shards, greedy rows, settings and input errors before any compute, and Ray on a local instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers_models import build_model, build_reward_model, write_task  # noqa: E402

import scaling  # noqa: E402
from collect.cli import main  # noqa: E402
from collect.grading import grade  # noqa: E402
from collect.params import EngineConfig, SamplingParams  # noqa: E402
from collect.sample import SampleConfig, batches, parse_shard, plan, run_sample, shard_of  # noqa: E402
from collect.store import part_files, read_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")   # tiny models: one torch thread (conftest.py)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect")
    model = build_model(root / "tiny-neox", seed=3)
    prm = build_reward_model(root / "tiny-prm", seed=4)
    task = write_task(root / "arith_tiny.jsonl", n=8)
    return {"root": root, "model": str(model), "prm": str(prm), "task": str(task)}


def _config(env, out, *, n=3, max_tokens=24, temperature=1.0, **kw):
    base = dict(task=env["task"], model=env["model"], out=str(out), template="raw", progress=False,
                sampling=SamplingParams(n=n, max_tokens=max_tokens, temperature=temperature, seed=0),
                engine=EngineConfig(batch_size=4, threads=1))
    base.update(kw)
    return SampleConfig(**base)


def _check_complete(out: Path, problems: int, n: int, method: str = "sample") -> pd.DataFrame:
    df = scaling.read_samples(out)                       # validates: types, no duplicate keys
    df = df[df["method"] == method]
    keys = set(zip(df["problem_id"], df["sample_id"], strict=True))
    assert len(df) == len(keys) == problems * n
    assert {s for _, s in keys} == set(range(n))
    return df


def test_sample_rows_texts_and_rerun(env, tmp_path):
    out = tmp_path / "table"
    res = run_sample(_config(env, out))
    assert res["rows"] == 24 and res["parts"] == 8       # one problem (3 samples) per batch of 4
    df = _check_complete(out, 8, 3)
    assert (df["model"] == "tiny-neox").all() and (df["temperature"] == 1.0).all()
    assert df["params"].nunique() == 1 and df["params"].iloc[0] > 1e4
    assert (df["prompt_tokens"] == df["problem_id"].map(
        {f"p{i}": len(f"What is {3 + i} + {4 + 2 * i}?\n") for i in range(8)})).all()
    assert df["logprob"].lt(0).all() and df["gen_tokens"].between(1, 24).all()
    assert set(df["difficulty"]) == {"1", "2", "3"}
    texts = pd.concat([read_texts(p) for p in part_files(out)], ignore_index=True)
    merged = df.merge(texts, on=["problem_id", "sample_id"], suffixes=("", "_t"), validate="one_to_one")
    assert len(merged) == 24
    refs = {f"p{i}": str(7 + 3 * i) for i in range(8)}
    for row in merged.itertuples():
        g = grade("arith_tiny", row.text, refs[row.problem_id])
        assert (g.answer, g.correct) == (None if pd.isna(row.answer) else row.answer, row.correct)
    # a re-run finds everything done; a larger n adds only the new sample ids
    again = run_sample(_config(env, out))
    assert again["rows"] == 0 and again["skipped_rows"] == 24
    more = run_sample(_config(env, out, n=5))
    assert more["rows"] == 16
    _check_complete(out, 8, 5)
    # greedy rows sit beside the samples
    run_sample(_config(env, out, greedy=True))
    g = _check_complete(out, 8, 1, method="greedy")
    assert (g["temperature"] == 0).all()
    # different settings for the same rows are refused before compute
    with pytest.raises(ValueError, match="temperature"):
        run_sample(_config(env, out, temperature=0.5))


def test_shards_partition_and_fill_one_folder(env, tmp_path):
    ids = {s: {p.problem_id for p in plan(_config(env, tmp_path / "x", shard=(s, 3))).problems} for s in range(3)}
    assert set().union(*ids.values()) == {f"p{i}" for i in range(8)}
    assert sum(len(v) for v in ids.values()) == 8
    assert all(shard_of(pid, 3) == s for s, v in ids.items() for pid in v)
    out = tmp_path / "sharded"
    for s in (1, 0, 2):
        run_sample(_config(env, out, shard=(s, 3), n=2))
    _check_complete(out, 8, 2)
    assert parse_shard("2/5") == (2, 5)
    assert batches([(0, [0, 1, 2]), (1, [0, 1, 2]), (2, [2])], 6) == [[(0, [0, 1, 2]), (1, [0, 1, 2])], [(2, [2])]]
    assert batches([(0, list(range(5)))], 2) == [[(0, [0, 1])], [(0, [2, 3])], [(0, [4])]]


def test_cli_errors_before_compute(env, tmp_path, capsys):
    bad_task = tmp_path / "noref.jsonl"
    bad_task.write_text(json.dumps({"question": "What is 1+1?"}) + "\n")
    out = tmp_path / "never"
    cases = [
        (["--task", "no_such_task"], "no_such_task"),
        (["--task", str(bad_task)], "noref.jsonl:1"),
        (["--model", str(tmp_path / "missing" / "model")], "does not exist"),
        (["--shard", "3/3"], "shard"),
        (["--shard", "a/b"], "shard"),
    ]
    for extra, needle in cases:
        args = {"--task": env["task"], "--model": env["model"], "--out": str(out)}
        for k, v in zip(extra[::2], extra[1::2], strict=True):
            args[k] = v
        argv = ["sample"] + [x for kv in args.items() for x in kv] + ["--n", "2", "--no-progress"]
        t0 = time.perf_counter()
        assert main(argv) == 2
        assert time.perf_counter() - t0 < 5      # nothing was loaded
        assert needle in capsys.readouterr().err
        assert not out.exists()
    assert main(["score", "--samples", str(tmp_path / "nothing"), "--reward-model", env["prm"]]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_score_command_fills_rewards_and_resumes(env, tmp_path, capsys):
    out = tmp_path / "scored"
    run_sample(_config(env, out, n=2, max_tokens=40))
    argv = ["score", "--samples", str(out), "--reward-model", env["prm"], "--batch-size", "5", "--no-progress"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["parts"] == 4 and first["rows"] == 16
    df = scaling.read_samples(out)
    assert (df["reward_model"] == "tiny-prm").all() and (df["reward_params"] > 0).all()
    from collect.prompts import split_steps
    from collect.rewards import load_reward_model

    rm = load_reward_model(env["prm"])
    texts = pd.concat([read_texts(p) for p in part_files(out)]).set_index(["problem_id", "sample_id"])
    for row in df.itertuples():
        t = texts.loc[(row.problem_id, row.sample_id)]
        steps = split_steps(t["text"])
        if not steps:
            assert row.step_rewards is None and row.reward == 0.0
            continue
        expect = rm.score([t["question"]], [steps])[0]
        assert list(row.step_rewards) == pytest.approx(expect, abs=1e-5)
        assert row.reward == pytest.approx(expect[-1], abs=1e-5)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["skipped_parts"] == 4
    # an outcome score into a copy; the in-place table keeps its PRM scores
    copy = tmp_path / "orm-copy"
    assert main(argv[:-1] + ["--kind", "orm", "--out", str(copy), "--no-progress"]) == 0
    orm = scaling.read_samples(copy)
    assert orm["step_rewards"].isna().all() and len(orm) == 16
    assert scaling.read_samples(out)["step_rewards"].notna().any()


def test_score_scores_repeated_solutions_once(env, tmp_path, capsys):
    out = tmp_path / "repeats"
    run_sample(_config(env, out, n=3, max_tokens=40, temperature=0.0))  # three identical solutions each
    assert main(["score", "--samples", str(out), "--reward-model", env["prm"], "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    df = scaling.read_samples(out)
    texts = pd.concat([read_texts(p) for p in part_files(out)])
    distinct = texts.loc[texts["text"].str.strip() != "", ["question", "text"]].drop_duplicates()
    assert summary["rows"] == len(df) == 3 * df["problem_id"].nunique()
    assert summary["scored"] == len(distinct) < summary["rows"]
    for _, g in df.groupby("problem_id"):
        assert g["reward"].nunique(dropna=False) == 1
        assert len({tuple(v) if v is not None else None for v in g["step_rewards"]}) == 1


def test_resume_after_sigkill(env, tmp_path, capsys):
    """Kill a real `python -m collect sample` once part files appear; the re-run completes the table
    with every (problem, sample) exactly once."""
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "collect", "sample", "--task", env["task"], "--model", env["model"],
            "--out", str(out), "--n", "4", "--max-tokens", "48", "--batch-size", "2", "--template", "raw",
            "--threads", "1", "--no-progress"]
    run_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and len(list(out.glob("*.parquet"))) < 2:
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    written = list(out.glob("*.parquet"))
    assert 2 <= len(written) < 16
    partial = scaling.read_samples(out)                   # what survived is whole and valid
    assert len(partial) == 2 * len(written)
    assert main(argv[3:]) == 0                            # the re-run, in this process (same CLI)
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped_rows"] >= len(partial) and summary["rows"] == 32 - summary["skipped_rows"]
    _check_complete(out, 8, 4)
    texts = list((out / "texts").glob("*.jsonl"))
    assert len(texts) == len(list(out.glob("*.parquet")))
    assert not list(out.glob(".*.tmp")) and not list((out / "texts").glob(".*.tmp"))


@pytest.mark.slow
def test_ray_local_cpu(env, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    from collect.distributed import run_ray

    monkeypatch.setenv("OMP_NUM_THREADS", "1")          # inherited by the local raylet's workers
    for _attempt in range(2):
        try:
            ray.init(num_cpus=2, include_dashboard=False)
            break
        except Exception as exc:  # noqa: BLE001 - Ray's startup timeout is a bare Exception
            ray.shutdown()
            if "timed out during startup" not in str(exc):
                raise
    else:
        pytest.skip("the local Ray node did not start within Ray's 30 s limit (overloaded machine)")
    try:
        out = tmp_path / "ray"
        results = run_ray(_config(env, out, n=2, max_tokens=16), workers=2, shards=3)
        assert ray.is_initialized()                      # run_ray leaves a caller's instance running
    finally:
        ray.shutdown()
    assert [r["shard"] for r in results] == ["0/3", "1/3", "2/3"]
    assert sum(r["rows"] for r in results) == 16
    _check_complete(out, 8, 2)

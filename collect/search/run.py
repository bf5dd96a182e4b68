"""Tree searches over a task: rows into sample tables, trees into ``trees/``, resumable.

For every problem and every run index ``r < runs`` one search is made (REBASE or MCTS), and each of its
solutions becomes one sample-table row (the contract: ``scaling/schema.py``)::

    task, problem_id, model, params, method ("rebase" | "mcts"), sample_id, answer, correct,
    gen_tokens (tokens on the solution's path), prompt_tokens, logprob (path sum),
    reward (last step's score), step_rewards (the path's scores), reward_model, reward_params,
    run_id, budget, run_gen_tokens (every token the run generated, pruned branches included),
    temperature, difficulty

Unfinished solutions (MCTS leaves that were never completed, REBASE nodes closed at a depth cap) are
kept with a null answer.

Files: the sample-table layout of :mod:`collect.store` (one :class:`~collect.store.PartWriter` per task,
model and method)::

    OUT/<task>--<model>--<method>--shard0of1-<seq>-<uid>.parquet   one table per batch of runs
    OUT/texts/<same stem>.jsonl        each row's solution text (with the question), as ``sample`` writes
    OUT/trees/<same stem>.parquet      the trees of that batch: one row per node (task, problem_id,
                                       run_id, node_id, parent, depth, tokens, path_tokens, score,
                                       logprob, leaf, finish, visits, value, output, text, stop_reason)

A batch's texts and trees are written before its table, and a run counts as done once its rows are in a
table (the resume key is ``(problem_id, run_id)``; run ids carry the configuration's tag and the seed), so
an interrupted command can be started again with the same arguments: finished runs are skipped.  Each
batch draws from the engine with a seed derived from the job's seed and the batch's first run, and the
searches of one batch are advanced together, so results are reproducible for the same arguments (and
batch size).

>>> from collect.search.run import SearchConfig
>>> SearchConfig("rebase", 16).run_id(3)
'rebase-b16-s0-r3'
>>> SearchConfig("mcts", 4).tag
'mcts-b4-e32'
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..params import EngineConfig, SamplingParams
from ..store import PartWriter
from .expand import ModelExpander, Search, drive
from .mcts import MCTS
from .rebase import VARIANTS, Rebase
from .tree import Tree

ALGOS = ("rebase", "mcts")
#: Prompt templates, as in ``collect sample``: those of ``collect.prompts.build_prompt`` and ``"raw"``
#: (the question and a newline, the format the bundled model family is trained on).
TEMPLATES = ("step", "plain", "raw")


def make_prompt(problem: Any, template: str = "step", few_shot: int = 0) -> str:
    """The text the policy continues for ``problem`` (the same prompt ``collect sample`` uses)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; expected one of {TEMPLATES}")
    from collect.sample import build_prompt_for

    return build_prompt_for(problem, template, few_shot)


@dataclass(frozen=True)
class SearchConfig:
    """What one search run does (see :class:`~collect.search.rebase.Rebase` and
    :class:`~collect.search.mcts.MCTS`); sampling settings apply to every step."""

    algo: str
    budget: int
    variant: str = "paper"                      # REBASE: "paper" or "released"
    balance_temperature: float | None = None    # REBASE: T_b override
    max_depth: int | None = None                # REBASE: depth cap override
    expansions: int | None = None               # MCTS: default 8 * budget
    child_width: int = 2                        # MCTS
    c: float = 1.0                              # MCTS exploration constant
    sampling: SamplingParams = SamplingParams(max_tokens=1024, seed=0)   # every step; max_tokens: a whole path
    step_tokens: int = 256                      # per step
    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"unknown search algorithm {self.algo!r}; expected one of {ALGOS}")
        if int(self.budget) != self.budget or self.budget < 1:
            raise ValueError(f"budget must be a positive integer, got {self.budget!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown REBASE variant {self.variant!r}; expected one of {sorted(VARIANTS)}")
        if self.sampling.seed is None:
            raise ValueError("a search needs a seed (it is part of the run ids)")

    @property
    def tag(self) -> str:
        """Short name of the configuration, used in run ids and file names."""
        if self.algo == "rebase":
            t = "rebase" + ("" if self.variant == "paper" else f".{self.variant}") + f"-b{self.budget}"
            if self.balance_temperature is not None:
                t += f"-t{self.balance_temperature:g}"
            if self.max_depth is not None:
                t += f"-d{self.max_depth}"
        else:
            e = 8 * self.budget if self.expansions is None else self.expansions
            t = f"mcts-b{self.budget}-e{e}"
            if self.child_width != 2:
                t += f"-w{self.child_width}"
            if self.c != 1.0:
                t += f"-c{self.c:g}"
        sp = self.sampling
        if (sp.temperature, sp.top_p, sp.max_tokens, self.step_tokens) != (1.0, 1.0, 1024, 256):
            t += f"-T{sp.temperature:g}-p{sp.top_p:g}-m{sp.max_tokens}-st{self.step_tokens}"
        return t

    def run_id(self, index: int) -> str:
        """Id of run ``index`` of this configuration (its tag and seed)."""
        return f"{self.tag}-s{self.sampling.seed}-r{index}"

    def make(self, tree: Tree) -> Search:
        if self.algo == "rebase":
            return Rebase(tree, self.budget, variant=self.variant, balance_temperature=self.balance_temperature,
                          max_depth=self.max_depth)
        return MCTS(tree, self.budget, expansions=self.expansions, child_width=self.child_width, c=self.c)


@dataclass
class SearchRunResult:
    """What :func:`run_search` did."""

    out: Path
    config: str
    runs_total: int
    runs_skipped: int
    runs_done: int = 0
    rows: int = 0
    gen_tokens: int = 0
    seconds: float = 0.0
    tables: list[Path] = field(default_factory=list)
    trees: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"config": self.config, "out": str(self.out), "runs_total": self.runs_total,
                "runs_skipped": self.runs_skipped, "runs_done": self.runs_done, "rows": self.rows,
                "gen_tokens": self.gen_tokens, "seconds": round(self.seconds, 3),
                "tables": [str(p) for p in self.tables], "trees": [str(p) for p in self.trees]}

    def summary(self) -> str:
        rate = self.gen_tokens / self.seconds if self.seconds > 0 else float("nan")
        return (f"{self.config}: {self.runs_done} run(s) searched, {self.runs_skipped} already done "
                f"(of {self.runs_total}); {self.rows} rows, {self.gen_tokens} generated tokens in "
                f"{self.seconds:.1f} s ({rate:.1f} tok/s); tables in {self.out}, trees in {self.out / 'trees'}")


def _batch_seed(seed: int, problem_id: str, run_id: str) -> int:
    """Seed of a batch whose first run is (problem_id, run_id): a resumed job redoes lost work alike."""
    h = hashlib.sha1(f"{seed}:{problem_id}:{run_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def search_rows(search: Search, problem: Any, *, run_id: str, model: str, params: float, prompt_tokens: int,
                reward_model: str | None, reward_params: float | None, temperature: float) -> list[dict]:
    """Sample-table rows of one finished search (one per output node, ``sample_id`` in output order);
    sets ``node.output`` to the row's sample_id."""
    from collect.grading import grade

    tree = search.tree
    run_tokens = tree.total_tokens
    rows = []
    for sid, node in enumerate(search.outputs):
        node.output = sid
        path = tree.path(node.node_id)
        if node.finished:
            g = grade(problem.task, tree.solution(node.node_id), problem.reference)
            answer, correct = g.answer, bool(g.correct)
        else:
            answer, correct = None, False
        scores = [n.score for n in path]
        rows.append({
            "task": problem.task, "problem_id": str(problem.problem_id), "model": model, "params": float(params),
            "method": search.method, "sample_id": sid, "answer": answer, "correct": correct,
            "gen_tokens": int(node.path_tokens), "prompt_tokens": int(prompt_tokens),
            "logprob": float(sum(n.logprob for n in path)),
            "reward": None if node.score is None else float(node.score),
            "step_rewards": None if any(s is None for s in scores) else [float(s) for s in scores],
            "reward_model": reward_model, "reward_params": reward_params,
            "run_id": run_id, "budget": int(search.budget), "run_gen_tokens": int(run_tokens),
            "temperature": float(temperature), "difficulty": problem.difficulty,
        })
    return rows


def _run_records(s, p, run_id: str, task: str, model: str, engine, config: SearchConfig, prompt_tokens: int,
                 rm_name, rm_params) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """One finished search run as its sample rows, the texts of its solutions and its tree's nodes."""
    rows = search_rows(s, p, run_id=run_id, model=model, params=float(engine.params), prompt_tokens=prompt_tokens,
                       reward_model=rm_name, reward_params=rm_params, temperature=config.sampling.temperature)
    texts = [{"task": task, "problem_id": row["problem_id"], "model": model, "method": row["method"],
              "sample_id": row["sample_id"], "run_id": run_id, "question": p.question,
              "text": s.tree.solution(node.node_id), "finish_reason": node.finish,
              "num_tokens": int(node.path_tokens)} for row, node in zip(rows, s.outputs, strict=True)]
    f = s.tree.to_frame()
    f.insert(0, "run_id", run_id)
    f.insert(0, "problem_id", str(p.problem_id))
    f.insert(0, "task", task)
    f["stop_reason"] = s.stop_reason
    return rows, texts, f


def search_problems(problems: list[Any], engine: Any, reward_model: Any, config: SearchConfig, *,
                    out: str | Path, runs: int = 1, batch_runs: int = 16, template: str = "step",
                    few_shot: int = 0, progress: bool = True, expander_kw: dict | None = None) -> SearchRunResult:
    """Search every problem ``runs`` times and write the rows, texts and trees under ``out`` (module doc).

    Parameters
    ----------
    problems
        ``collect.tasks.Problem`` objects (one task).
    engine, reward_model
        A ``collect.engines`` engine and a ``collect.rewards`` process reward model.
    config
        The search configuration (its sampling seed is part of the run ids).
    runs
        Independent runs per problem (run ids ``<tag>-s<seed>-r<i>``).
    batch_runs
        Runs advanced together (their generation requests share engine calls) and written as one part.
    """
    from tqdm.auto import tqdm

    if not problems:
        raise ValueError("no problems to search")
    tasks = {p.task for p in problems}
    if len(tasks) != 1:
        raise ValueError(f"problems of one task expected, got {sorted(tasks)}")
    if runs < 1 or batch_runs < 1:
        raise ValueError(f"runs and batch_runs must be positive, got {runs}, {batch_runs}")
    task = tasks.pop()
    out = Path(out)
    model = str(engine.model_name)
    rm_name = getattr(reward_model, "name", None)
    rm_params = getattr(reward_model, "params", None)
    writer = PartWriter(out, task=task, model=model, method={"rebase": Rebase, "mcts": MCTS}[config.algo].method)
    writer.check_settings({"template": template, "few_shot": few_shot, "reward_model": rm_name})
    writer.clean()
    done = writer.done_keys(("problem_id", "run_id"))
    todo = [(p, r) for p in problems for r in range(runs) if (str(p.problem_id), config.run_id(r)) not in done]
    result = SearchRunResult(out=out, config=config.tag, runs_total=len(problems) * runs,
                             runs_skipped=len(problems) * runs - len(todo))
    prompts: dict[str, tuple[str, int]] = {}
    bar = tqdm(total=len(todo), unit="run", desc=f"{config.algo} b={config.budget}", disable=not progress)
    t0 = time.perf_counter()
    try:
        for start in range(0, len(todo), batch_runs):
            batch = todo[start:start + batch_runs]
            searches = []
            for p, _r in batch:
                key = str(p.problem_id)
                if key not in prompts:
                    text = make_prompt(p, template, few_shot)
                    prompts[key] = (text, int(engine.count_tokens(text)))
                searches.append(config.make(Tree(prompts[key][0], p.question)))
            first = batch[0]
            seed = _batch_seed(config.sampling.seed, str(first[0].problem_id), config.run_id(first[1]))
            expander = ModelExpander(engine, reward_model, config.sampling.replace(seed=seed),
                                     step_tokens=config.step_tokens, **(expander_kw or {}))
            drive(searches, expander, progress=bar)
            tree_tokens = sum(s.tree.total_tokens for s in searches)
            if tree_tokens != expander.stats["gen_tokens"]:
                raise RuntimeError(f"token accounting mismatch: trees hold {tree_tokens} tokens, the engine "
                                   f"generated {expander.stats['gen_tokens']}")
            rows, texts, frames = [], [], []
            for s, (p, r) in zip(searches, batch, strict=True):
                new, new_texts, frame = _run_records(s, p, config.run_id(r), task, model, engine, config,
                                                     prompts[str(p.problem_id)][1], rm_name, rm_params)
                rows += new
                texts += new_texts
                frames.append(frame)
            part = writer.write(pd.DataFrame(rows), texts, trees=pd.concat(frames, ignore_index=True))
            result.tables.append(part)
            result.trees.append(part.parent / "trees" / part.name)
            result.runs_done += len(batch)
            result.rows += len(rows)
            result.gen_tokens += tree_tokens
            bar.set_postfix(tokens=result.gen_tokens, refresh=False)
    finally:
        bar.close()
        result.seconds = time.perf_counter() - t0
    return result


@dataclass
class SearchJob:
    """Settings of one ``python -m collect search`` job: every configuration in ``configs`` over a task.

    reward_backend: how a likelihood verifier is read (``hf`` or ``vllm``); reward_dtype its dtype
    (default float32 on CPU).  The engine also gives the reward model its device.
    """

    task: str
    model: str
    reward_model: str
    out: str
    configs: list[SearchConfig]
    runs: int = 1
    batch_runs: int = 16
    limit: int | None = None
    template: str = "step"
    few_shot: int = 0
    engine: EngineConfig = field(default_factory=EngineConfig)
    reward_dtype: str | None = None
    reward_backend: str = "hf"
    progress: bool = True


def run_search(job: SearchJob, *, engine: Any = None, reward_model: Any = None) -> list[SearchRunResult]:
    """Run (or resume) every configuration of ``job``; ``engine`` and ``reward_model``: already loaded ones
    (else opened from the job).  Returns one result per configuration."""
    import sys

    from collect.rewards import load_reward_model
    from collect.tasks import load_task

    if not job.configs:
        raise ValueError("no search configuration given")
    problems = load_task(job.task, limit=job.limit)
    if engine is None:
        from ..engines import open_engine

        engine = open_engine(job.engine, job.model)
    if reward_model is None:
        reward_model = load_reward_model(job.reward_model, device=job.engine.device, dtype=job.reward_dtype,
                                         backend=job.reward_backend)
    if getattr(reward_model, "kind", "prm") != "prm":
        print(f"warning: {job.reward_model} is an outcome reward model; tree search scores partial "
              "solutions with it as if it were a process reward model", file=sys.stderr)
    results = []
    for cfg in job.configs:
        res = search_problems(problems, engine, reward_model, cfg, out=job.out, runs=job.runs,
                              batch_runs=job.batch_runs, template=job.template, few_shot=job.few_shot,
                              progress=job.progress)
        print(res.summary(), file=sys.stderr)
        results.append(res)
    return results


__all__ = ["SearchConfig", "SearchJob", "SearchRunResult", "run_search", "search_problems", "search_rows",
           "make_prompt", "ALGOS", "TEMPLATES"]

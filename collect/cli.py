"""Command line: ``python -m collect sample|score [...]`` (and ``search`` when :mod:`collect.search.cli`
provides ``add_parser(subparsers)``; its parser must set ``func`` to a callable taking the namespace).

    python -m collect sample --task arith --model data/models/arith-neox-113k --backend hf --n 64 \\
        --template raw --temperature 0.7 --max-tokens 160 --out samples/arith [--limit P] [--shard i/k] [--seed S]
    python -m collect score --samples samples/arith --reward-model data/models/arith-verifier-1.9m
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys


def _add_sample(sub) -> None:
    from .params import EngineConfig, SamplingParams, add_arguments
    from .sample import SampleConfig

    p = sub.add_parser("sample", help="sample N solutions per problem and write a sample table",
                       description="Sample N solutions per problem, grade them, write a sample table.")
    p.add_argument("--task", required=True, help="gsm8k, math500, a data/tasks/<name>.jsonl name, or a JSONL path")
    p.add_argument("--model", required=True, help="model folder, bundled name under data/models/, or hub id")
    p.add_argument("--out", required=True, help="table folder (part files, texts/ beside them)")
    defaults = SampleConfig("", "", "")
    add_arguments(p.add_argument_group("sampling"), SamplingParams, defaults.sampling)
    p.add_argument("--greedy", action="store_true",
                   help="one greedy solution per problem (method=greedy, temperature 0; --n is ignored)")
    p.add_argument("--limit", type=int, default=None, help="first P problems of the task only")
    p.add_argument("--shard", default=None, help="i/k: this process does shard i of k (0-based)")
    p.add_argument("--few-shot", type=int, default=0)
    p.add_argument("--template", choices=["step", "plain", "raw"], default="step",
                   help="prompt template; raw = question + newline (the bundled model family's format)")
    add_arguments(p.add_argument_group("engine"), EngineConfig, defaults.engine,
                  help={"batch_size": "solutions per engine call and per part file (default 64 hf, 512 vllm)"})
    p.add_argument("--ray", action="store_true", help="run shards as Ray actors (local or RAY_ADDRESS)")
    p.add_argument("--workers", type=int, default=2, help="with --ray: engine actors (one per GPU)")
    p.add_argument("--shards", type=int, default=None, help="with --ray: number of shards (default workers)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_sample)


def _add_score(sub) -> None:
    from .params import add_arguments
    from .score import ScoreConfig

    p = sub.add_parser("score", help="score solutions of a sample table with a reward model",
                       description="Fill reward, step_rewards, reward_model, reward_params of a sample table.")
    add_arguments(p, ScoreConfig, ScoreConfig("", ""))
    p.add_argument("--threads", type=int, default=None, help="on CPU: torch threads")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_score)


def cmd_sample(args: argparse.Namespace) -> dict:
    from .params import EngineConfig, SamplingParams, from_args
    from .sample import SampleConfig, parse_shard, run_sample

    defaults = SampleConfig("", "", "")
    config = SampleConfig(task=args.task, model=args.model, out=args.out,
                          sampling=from_args(SamplingParams, args, defaults.sampling),
                          engine=from_args(EngineConfig, args, defaults.engine), greedy=args.greedy,
                          limit=args.limit, shard=parse_shard(args.shard), few_shot=args.few_shot,
                          template=args.template, progress=not args.no_progress)
    if args.ray:
        if args.shard is not None:
            raise ValueError("--ray splits the work into shards itself; drop --shard")
        from .distributed import run_ray

        return {"shards": run_ray(config, workers=args.workers, shards=args.shards)}
    return run_sample(config)


def cmd_score(args: argparse.Namespace) -> dict:
    from .params import from_args
    from .score import ScoreConfig, run_score

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return run_score(from_args(ScoreConfig, args, ScoreConfig("", ""), progress=not args.no_progress))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m collect",
                                     description="Collect sample tables: sample, score (and search).")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_sample(sub)
    _add_score(sub)
    try:  # the tree-search helper registers `search` here
        search_cli = importlib.import_module("collect.search.cli")
    except ModuleNotFoundError as exc:
        if exc.name not in ("collect.search.cli", "collect.search"):
            raise
    else:
        search_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (ValueError, FileNotFoundError, NotADirectoryError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if isinstance(result, dict):
        print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

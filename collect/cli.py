"""Command line: ``python -m collect sample|score [...]`` (and ``search`` when :mod:`collect.search.cli`
provides ``add_parser(subparsers)``; its parser must set ``func`` to a callable taking the namespace).

    python -m collect sample --task gsm8k --model data/models/neox-1m --backend hf --n 64 \\
        --temperature 1.0 --max-tokens 1024 --out data/samples/gsm8k [--limit P] [--shard i/k] [--seed S]
    python -m collect score --samples data/samples/gsm8k --reward-model data/models/prm-neox --kind prm
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="sample N solutions per problem and write a sample table",
                       description="Sample N solutions per problem, grade them, write a sample table.")
    p.add_argument("--task", required=True, help="gsm8k, math500, a data/tasks/<name>.jsonl name, or a JSONL path")
    p.add_argument("--model", required=True, help="model folder, bundled name under data/models/, or hub id")
    p.add_argument("--backend", choices=["hf", "vllm"], default="hf")
    p.add_argument("--out", required=True, help="table folder (part files, texts/ beside them)")
    p.add_argument("--n", type=int, default=16, help="samples per problem (default 16)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=1024)
    p.add_argument("--limit", type=int, default=None, help="first P problems of the task only")
    p.add_argument("--shard", default=None, help="i/k: this process does shard i of k (0-based)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--few-shot", type=int, default=0)
    p.add_argument("--template", choices=["step", "plain", "raw"], default="step",
                   help="prompt template; raw = question + newline (the bundled model family's format)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="solutions per engine call and per part file (default 64 hf, 512 vllm)")
    p.add_argument("--device", default="cpu", help="hf backend: cpu, cuda or cuda:N")
    p.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default per backend)")
    p.add_argument("--greedy", action="store_true", help="one greedy solution per problem (method=greedy, temperature 0; --n is ignored)")
    p.add_argument("--stop", action="append", default=None, help="extra stop string (repeatable)")
    p.add_argument("--model-name", default=None, help="name recorded in the table (default: folder name)")
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm backend: GPUs per model")
    p.add_argument("--threads", type=int, default=None, help="hf backend on CPU: torch threads")
    p.add_argument("--ray", action="store_true", help="run shards as Ray actors (local or RAY_ADDRESS)")
    p.add_argument("--workers", type=int, default=2, help="with --ray: engine actors (one per GPU)")
    p.add_argument("--shards", type=int, default=None, help="with --ray: number of shards (default workers)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_sample)


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="score solutions of a sample table with a reward model",
                       description="Fill reward, step_rewards, reward_model, reward_params of a sample table.")
    p.add_argument("--samples", required=True, help="table folder (or one part file) written by `sample`")
    p.add_argument("--reward-model", required=True, help="reward-model folder with reward_config.json")
    p.add_argument("--kind", choices=["prm", "orm"], default=None, help="default: from reward_config.json")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", default=None, help="write scored copies here instead of in place")
    p.add_argument("--overwrite", action="store_true", help="replace rewards of another reward model")
    p.add_argument("--threads", type=int, default=None, help="on CPU: torch threads")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_score)


def cmd_sample(args: argparse.Namespace) -> dict:
    from .sample import SampleConfig, parse_shard, run_sample

    config = SampleConfig(task=args.task, model=args.model, out=args.out, backend=args.backend, n=args.n,
                          temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                          limit=args.limit, shard=parse_shard(args.shard), seed=args.seed,
                          few_shot=args.few_shot, template=args.template, batch_size=args.batch_size,
                          device=args.device, dtype=args.dtype, greedy=args.greedy, stop=args.stop,
                          model_name=args.model_name, tensor_parallel_size=args.tensor_parallel_size,
                          threads=args.threads, progress=not args.no_progress)
    if args.ray:
        if args.shard is not None:
            raise ValueError("--ray splits the work into shards itself; drop --shard")
        from .distributed import run_ray

        return {"shards": run_ray(config, workers=args.workers, shards=args.shards)}
    return run_sample(config)


def cmd_score(args: argparse.Namespace) -> dict:
    from .score import run_score

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return run_score(args.samples, args.reward_model, kind=args.kind, device=args.device,
                     batch_size=args.batch_size, out=args.out, overwrite=args.overwrite,
                     progress=not args.no_progress, dtype=args.dtype)


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

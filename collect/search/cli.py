"""``python -m collect search``: REBASE or MCTS over a task into sample tables (resumable).

Example::

    python -m collect search --algo rebase --budget 16 --runs 2 --task arith \\
        --model data/models/<policy> --reward-model data/models/<prm> --out data/samples/search \\
        --template raw --limit 50

Several budgets may be given (``--budget 4 8 16``); each is a separate configuration with its own files.
Running the same command again skips the runs already written.
"""

from __future__ import annotations

import argparse
import json

from ..params import EngineConfig, SamplingParams, add_arguments, from_args
from .rebase import VARIANTS
from .run import ALGOS, TEMPLATES, SearchConfig, SearchJob, run_search


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``search`` subcommand on an ``argparse`` subparsers object."""
    p = subparsers.add_parser("search", help="tree search (REBASE, MCTS) with a process reward model",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(p)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", required=True, choices=ALGOS, help="search algorithm")
    p.add_argument("--budget", required=True, type=int, nargs="+",
                   help="REBASE: N, the solutions per run; MCTS: children of the root (4, 8, 16 in the paper)")
    p.add_argument("--runs", type=int, default=1, help="independent runs per problem (default 1)")
    p.add_argument("--task", required=True, help="task name (gsm8k, math500, arith, ...) or JSONL path")
    p.add_argument("--model", required=True, help="policy model folder or name under data/models/")
    p.add_argument("--reward-model", required=True, help="process reward model folder (with reward_config.json)")
    p.add_argument("--out", required=True, help="output folder for tables (trees go to OUT/trees/)")
    p.add_argument("--limit", type=int, default=None, help="first P problems only")
    p.add_argument("--template", choices=TEMPLATES, default="step",
                   help="prompt template; raw = question + newline (the bundled model family's format)")
    p.add_argument("--few-shot", type=int, default=0, help="worked examples in the prompt")
    p.add_argument("--batch-runs", type=int, default=16, help="runs searched together and written per table")
    add_arguments(p.add_argument_group("sampling (every step)"), SamplingParams, SearchConfig("rebase", 1).sampling,
                  skip=("n", "stop"), help={"max_tokens": "token cap of a whole solution (path)",
                                            "seed": "seed (part of the run ids)"})
    p.add_argument("--step-tokens", type=int, default=256, help="token cap of one step")
    add_arguments(p.add_argument_group("engine"), EngineConfig, help={"batch_size": "hf backend: sequences "
                                                                      "decoded at once (default 64)"})
    p.add_argument("--reward-dtype", default=None,
                   help="reward model's dtype: float32, bfloat16 or float16 (default: float32 on CPU, bf16/fp16 on CUDA)")
    p.add_argument("--reward-backend", choices=("hf", "vllm"), default="hf",
                   help="likelihood verifiers: read with transformers or vLLM's prompt log-probabilities")
    g = p.add_argument_group("REBASE")
    g.add_argument("--variant", choices=sorted(VARIANTS), default="paper",
                   help="paper: T_b=0.1, Round; released: T_b=0.2, ceiling allocation, depth cap 25")
    g.add_argument("--balance-temperature", type=float, default=None, help="override T_b")
    g.add_argument("--max-depth", type=int, default=None, help="override the depth cap")
    g = p.add_argument_group("MCTS")
    g.add_argument("--expansions", type=int, default=None, help="expansions per run (default 8 x budget)")
    g.add_argument("--child-width", type=int, default=2, help="children of a selected non-root node")
    g.add_argument("--c", type=float, default=1.0, help="UCT exploration constant")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def job_from_args(args: argparse.Namespace) -> SearchJob:
    """The :class:`~collect.search.run.SearchJob` a command line describes."""
    sampling = from_args(SamplingParams, args, SearchConfig("rebase", 1).sampling)
    configs = [SearchConfig(args.algo, b, variant=args.variant, balance_temperature=args.balance_temperature,
                            max_depth=args.max_depth, expansions=args.expansions, child_width=args.child_width,
                            c=args.c, sampling=sampling, step_tokens=args.step_tokens) for b in args.budget]
    return SearchJob(task=args.task, model=args.model, reward_model=args.reward_model, out=args.out,
                     configs=configs, runs=args.runs, batch_runs=args.batch_runs, limit=args.limit,
                     template=args.template, few_shot=args.few_shot, engine=from_args(EngineConfig, args),
                     reward_dtype=args.reward_dtype, reward_backend=args.reward_backend,
                     progress=not args.no_progress)


def run(args: argparse.Namespace) -> dict:
    """Run the searches of the command line; returns a summary per configuration."""
    return {"searches": [r.to_dict() for r in run_search(job_from_args(args))]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collect.search.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    args = parser.parse_args(argv)
    print(json.dumps(args.func(args), indent=1, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

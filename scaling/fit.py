"""The command ``python -m scaling.fit DATA_DIR [--out fits/] [--figures figures/] [--strategies ...]
[--compute ...] [--format ...]``: fit inference scaling laws to the sample tables in a directory.

Read every sample table (and every file of lm-evaluation-harness, Inspect, search-and-learn or Large
Language Monkeys, :mod:`scaling.readers`) under DATA_DIR, evaluate them (:func:`scaling.evaluate`: every strategy at every k,
exact estimators per problem, plug-in voting limits, per-problem extrapolations beyond the cached samples,
one bootstrap over problems), fit each task's laws (:meth:`scaling.evaluation.Evaluation.fit`), print a
summary per task (best configuration per budget decade, fitted asymptotes beside the plug-in voting
limits, the compute-optimal size law) and write ``<out>/<task>.json`` (read with ``scaling.read_laws``) and
``<figures>/<task>-*.png``.  The same laws come from Python with ``scaling.evaluate(samples).fit()``.
Exit status 0 on success, 2 on bad input (with a message naming what is wrong).

This module is the command (the top of the package: it imports the library, nothing imports it);
``scaling.fit`` is never a function.  From Python, ``main(["data/", "--out", "fits"])`` runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .readers import FORMATS
from .registry import STRATEGIES
from .samples import TABLE
from .schema import CONTRACT_DOC

__all__ = ["main", "run", "InputError"]


class InputError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scaling.fit", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("data_dir", help="directory (or file) of sample tables (.parquet / .jsonl)")
    p.add_argument("--out", default="fits", help="folder for <task>.json laws files")
    p.add_argument("--figures", default="figures", help="folder for <task>-*.png figures ('' to skip)")
    p.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=None,
                   help="strategies to evaluate (default: every one the data supports)")
    p.add_argument("--compute", default=None,
                   help="compute convention, e.g. 'prompt=per_problem,reward' (default: the paper's 2·N·T_gen)")
    p.add_argument("--reward-agg", default=None, choices=["last", "min", "prod", "mean"],
                   help="aggregate process-reward step scores (default: the reward column)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates over problems")
    p.add_argument("--by", default=None, metavar="COLUMN",
                   help="also fit per value of COLUMN (e.g. difficulty) and print the per-bin allocation and its "
                        "gain over one configuration for all bins; writes <task>-by-COLUMN.json")
    p.add_argument("--no-extrapolate", action="store_true", help="do not add per-problem extrapolations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=-1,
                   help="worker processes for the per-problem values, extrapolations and figures (-1: one per "
                        "core); the results do not depend on it")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    tools = p.add_argument_group(
        "evaluation tools' files", "what a tool's files do not record (lm-eval, Inspect, search-and-learn, Large "
        "Language Monkeys; see scaling.readers): each reader says which of these it needs")
    tools.add_argument("--format", default="auto", choices=["auto", TABLE, *FORMATS],
                       help="read only files of this kind (auto: recognise each file)")
    tools.add_argument("--task", default=None, help="task name (default: the tool's, where it logs one)")
    tools.add_argument("--model", default=None, help="model name (default: the tool's, where it logs one)")
    tools.add_argument("--params", type=float, default=None, help="the model's parameter count")
    tools.add_argument("--tokenizer", default=None, metavar="PATH",
                       help="tokenizer.json (or its folder) to count tokens the files do not record")
    tools.add_argument("--grade", default=None, metavar="MODULE:FUNCTION",
                       help="grader grade(task, text, reference) for responses the tool did not grade one by one, "
                            "e.g. collect.grading:grade ('collect' for short); lm-eval: 'task' (default) uses the "
                            "task's own exact-match rule")
    tools.add_argument("--temperature", type=float, default=None, help="sampling temperature, where not logged")
    tools.add_argument("--difficulty-field", default=None, metavar="FIELD",
                       help="field of each problem's record holding a difficulty label")
    return p


def _tool_options(args) -> dict:
    """The reader options given on the command line (the unset ones left to each reader)."""
    given = {"task": args.task, "model": args.model, "params": args.params, "tokenizer": args.tokenizer,
             "grade": args.grade, "temperature": args.temperature, "difficulty": args.difficulty_field}
    return {k: v for k, v in given.items() if v is not None}


def _read(root: Path, fmt: str = "auto", options: dict | None = None):
    """The validated sample table under ``root`` and its files (InputError naming what is wrong)."""
    import scaling
    from scaling.samples import sample_files

    if not root.exists():
        raise InputError(f"{root}: no such file or directory")
    if root.is_dir() and not any(p.is_file() for p in root.rglob("*")):
        raise InputError(f"{root}: the directory is empty; expected sample tables (.parquet or .jsonl)")
    try:
        files = [f for f, _ in sample_files(root, fmt)]
    except scaling.SchemaError as exc:
        raise InputError(str(exc)) from None
    if not files:
        raise InputError(f"{root}: no sample tables found (expected .parquet / .jsonl / .jsonl.gz files with the "
                         f"sample-table columns, or files of {', '.join(FORMATS)}; {CONTRACT_DOC})")
    try:
        samples = scaling.read_samples(root, format=fmt, **(options or {}))
    except (scaling.SchemaError, ValueError) as exc:
        raise InputError(str(exc)) from None
    if samples.empty:
        raise InputError(f"{root}: the sample tables hold no rows")
    return samples, files


def _evaluate(args, samples, by: str | None = None):
    import scaling
    from scaling.evaluation import EXTRAPOLATE

    try:
        return scaling.evaluate(samples, strategies=args.strategies, flops=args.compute, reward_agg=args.reward_agg,
                                by=by, seed=args.seed, n_boot=args.n_boot, progress=not args.quiet,
                                extrapolate=() if args.no_extrapolate else EXTRAPOLATE, n_jobs=args.jobs)
    except (scaling.SchemaError, ValueError) as exc:
        raise InputError(f"{args.data_dir}: cannot evaluate{f' by {by!r}' if by else ''}: {exc}") from None


def _no_curve(ev, task: str) -> InputError:
    counts = ev.curves.groupby(["model", "method", "strategy"]).k.nunique()
    return InputError(f"task {task!r}: no curve can be fitted -- every (model, method, strategy) has fewer "
                      f"than 3 values of k (most: {int(counts.max())}); sample more solutions per problem "
                      "(k = 1, 2, 4, ... needs n >= 4) or run several tree-search budgets")


def _figure_calls(laws, task: str, folder: str, extrapolation=None) -> list:
    """One call per figure of ``task`` (:func:`scaling.plots.save_figure`, extrapolated points with their
    intervals); none without a figures folder."""
    if not folder:
        return []
    from scaling.plots import figure_names, save_figure

    return [(1.0, save_figure, (laws, task, name, folder, 130, extrapolation)) for name in figure_names(laws, task)]


def _draw(outputs: list, n_jobs: int) -> list[Path]:
    """Draw every task's figures (in ``n_jobs`` worker processes; the files do not depend on it) and list
    the files written, task by task: the laws file, its figures, the per-bin laws file."""
    from scaling.workers import run as run_calls

    drawn = iter(run_calls([call for _, calls, _ in outputs for call in calls], n_jobs))
    written = []
    for saved, calls, after in outputs:
        figures = [next(drawn) for _ in calls]
        written += saved + [p for p in figures if p is not None] + after
    return written


def run(args) -> int:
    """read -> evaluate -> fit per task -> save (and, with --by, the per-bin fits) -> plots."""
    from scaling.allocation import per_bin_report
    from scaling.laws import file_hashes
    from scaling.names import slug

    t0 = time.time()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    samples, files = _read(Path(args.data_dir), args.format, _tool_options(args))
    say(f"read {len(samples)} solutions from {len(files)} file(s) in {time.time() - t0:.1f}s")
    ev = _evaluate(args, samples)
    say(f"evaluated {len(ev.curves)} (configuration, k) points in {time.time() - t0:.1f}s")
    if args.by and (args.by not in samples or samples[args.by].isna().all()):
        raise InputError(f"--by {args.by}: the sample tables have no values in column {args.by!r}")
    ev_by = _evaluate(args, samples, by=args.by) if args.by else None
    fit_options = {"n_boot": args.n_boot, "seed": args.seed, "sources": file_hashes(files), "progress": not args.quiet}
    out_dir, outputs, n_fitted = Path(args.out), [], 0
    for task in ev.tasks:
        laws = ev.select(task=task).fit(**fit_options)
        if not laws.curves:
            raise _no_curve(ev.select(task=task), task)
        n_fitted += len(laws.curves)
        print(laws.summary(), end="\n\n")
        saved = [laws.write(out_dir / f"{slug(task)}.json")]
        after = []
        if ev_by is not None:
            laws_by = ev_by.select(task=task).fit(**fit_options)
            print(f"task {task}: " + per_bin_report(laws_by, args.by), end="\n\n")
            after.append(laws_by.write(out_dir / f"{slug(f'{task}-by-{args.by}')}.json"))
        ex = ev.extrapolated_summary
        ex = ex[ex.task.astype(str) == str(task)] if len(ex) else None
        outputs.append((saved, _figure_calls(laws, task, args.figures, ex), after))
    written = _draw(outputs, args.jobs)
    print(f"wrote {len(written)} file(s): {', '.join(str(p) for p in written)}")
    print(f"{n_fitted} curves fitted in {time.time() - t0:.1f}s")
    return 0


def main(argv=None) -> int:
    """Run the command line (``python -m scaling.fit --help``); returns the exit status."""
    args = _parser().parse_args(argv)
    if args.figures:
        import matplotlib

        matplotlib.use("Agg")   # this command only writes files; chosen here, not on import of a library module
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m scaling.fit DATA_DIR [--out fits/] [--figures figures/] [--strategies ...]
[--compute ...]``.

Reads every sample table under DATA_DIR, evaluates every strategy at every k (exact estimators, per
problem), adds per-problem extrapolations beyond the cached samples, fits saturation curves with a
bootstrap over problems, prints a summary per task (best configuration per budget decade, fitted
asymptotes beside the plug-in voting limits, the compute-optimal size law) and writes
``<out>/<task>.json`` (load with ``scaling.load_law``) and ``<figures>/<task>-*.png``.
Exit status 0 on success, 2 on bad input (with a message naming what is wrong).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

STRATEGIES = ("greedy", "majority", "weighted_majority", "best_of_n", "pass_at_k")


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
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _aggregate(pp: pd.DataFrame, n_boot: int, seed: int, level: float = 0.95) -> pd.DataFrame:
    """Per-problem rows -> the evaluate table (mean accuracy and FLOPs, bootstrap CI over problems)."""
    keys = [c for c in pp.columns if c not in ("problem_id", "accuracy", "flops", "mc_var")]
    rng = np.random.default_rng(seed)
    rows = []
    for g, d in pp.groupby(keys, dropna=False, sort=True):
        v = d.accuracy.to_numpy(float)
        P = len(v)
        idx = rng.integers(0, P, size=(min(n_boot, 400), P))
        boots = v[idx].mean(axis=1)
        a = (1 - level) / 2
        mc = d["mc_var"].to_numpy(float) if "mc_var" in d else np.full(P, np.nan)
        rows.append({**dict(zip(keys, g, strict=True)), "flops": float(d.flops.mean()), "accuracy": float(v.mean()),
                     "ci_low": float(np.quantile(boots, a)), "ci_high": float(np.quantile(boots, 1 - a)),
                     "mc_se": float(np.sqrt(np.nansum(mc)) / P) if np.isfinite(mc).any() else np.nan,
                     "n_problems": P})
    return pd.DataFrame(rows)


def _by_bins(args, samples: pd.DataFrame, task: str, hashes: dict, out_dir: Path) -> Path:
    """Fit per bin of ``args.by`` and print the per-bin allocation at every budget decade."""
    import scaling
    from scaling.allocation import per_difficulty
    from scaling.laws import fit as fit_laws

    col = args.by
    if col not in samples or samples[col].isna().all():
        raise InputError(f"--by {col}: the sample tables of task {task!r} have no values in column {col!r}")
    try:
        pp = scaling.evaluate(samples, strategies=args.strategies, flops=args.compute, reward_agg=args.reward_agg,
                              by=col, seed=args.seed, per_problem=True)
    except (scaling.SchemaError, ValueError) as exc:
        raise InputError(f"--by {col}: cannot evaluate task {task!r}: {exc}") from None
    curves = _aggregate(pp, args.n_boot, args.seed)
    laws = fit_laws(curves, per_problem=pp, n_boot=min(args.n_boot, 100), seed=args.seed,
                    compute=args.compute or "2·N·T_gen (paper)", sources=hashes, progress=not args.quiet)
    print(f"per-{col} allocation for task {task} (best configuration per bin vs one for all):")
    lo, hi = laws.points.flops.min(), max([cf.fit_range[1] for cf in laws.curves.values()] or [laws.points.flops.max()])
    for e in range(int(np.ceil(np.log10(lo))), int(np.floor(np.log10(hi))) + 1):
        try:
            tab = per_difficulty(laws, 10.0 ** e, by=col)
        except ValueError:
            continue
        tot = tab.iloc[-1]
        bins = "; ".join(f"{r.bin}: {r.choice} k={r.k} ({r.accuracy:.3f})" for r in tab.iloc[:-1].itertuples()
                         if isinstance(r.choice, str))
        gain = f"gain {tot.gain:+.3f} over one-for-all {tot.one_for_all_choice}" if isinstance(
            tot.one_for_all_choice, str) else "no single configuration covers every bin"
        print(f"  1e{e:<3d} FLOPs: per-bin {tot.accuracy:.3f}, {gain}\n      {bins}")
    print()
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{task}-by-{col}")
    return laws.save(out_dir / f"{safe}.json")


def run(args) -> int:
    import scaling
    from scaling.extrapolate import extrapolated_table
    from scaling.laws import file_hashes
    from scaling.laws import fit as fit_laws

    t0 = time.time()
    root = Path(args.data_dir)
    if not root.exists():
        raise InputError(f"{root}: no such file or directory")
    if root.is_dir() and not any(p.is_file() for p in root.rglob("*")):
        raise InputError(f"{root}: the directory is empty; expected sample tables (.parquet or .jsonl)")
    from scaling.samples import table_files

    files = table_files(root)
    if not files:
        raise InputError(f"{root}: no sample tables found (expected .parquet / .jsonl / .jsonl.gz files with the "
                         "sample-table columns; see DESIGN.md)")
    try:
        samples = scaling.read_samples(root)
    except scaling.SchemaError as exc:
        raise InputError(str(exc)) from None
    if samples.empty:
        raise InputError(f"{root}: the sample tables hold no rows")
    quiet = args.quiet
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    say(f"read {len(samples)} solutions from {len(files)} file(s) in {time.time() - t0:.1f}s")
    try:
        pp = scaling.evaluate(samples, strategies=args.strategies, flops=args.compute, reward_agg=args.reward_agg,
                              seed=args.seed, per_problem=True)
    except (scaling.SchemaError, ValueError) as exc:
        raise InputError(f"{root}: cannot evaluate: {exc}") from None
    curves = _aggregate(pp, args.n_boot, args.seed)
    say(f"evaluated {len(curves)} (configuration, k) points in {time.time() - t0:.1f}s")
    limits = scaling.limits(samples)
    limits_pp = scaling.limits(samples, per_problem=True)
    ex = None
    if not args.no_extrapolate:
        strategies = [s for s in (args.strategies or STRATEGIES) if s != "greedy"]
        ex = extrapolated_table(samples, strategies=strategies, compute=args.compute, reward_agg=args.reward_agg,
                                seed=args.seed, progress=not quiet)
    hashes = file_hashes(files)
    out_dir = Path(args.out)
    written = []
    n_fitted = 0
    for task in sorted(curves.task.astype(str).unique()):
        ct = curves[curves.task.astype(str) == task]
        laws = fit_laws(ct, per_problem=pp[pp.task.astype(str) == task],
                        limits=limits[limits.task.astype(str) == task],
                        limits_per_problem=limits_pp[limits_pp.task.astype(str) == task],
                        extrapolated=None if ex is None else ex[ex.task.astype(str) == task],
                        n_boot=args.n_boot, seed=args.seed, compute=args.compute or "2·N·T_gen (paper)",
                        sources=hashes, progress=not quiet)
        if not laws.curves:
            counts = ct.groupby(["model", "method", "strategy"]).k.nunique()
            raise InputError(f"task {task!r}: no curve can be fitted -- every (model, method, strategy) has fewer "
                             f"than 3 values of k (most: {int(counts.max())}); sample more solutions per problem "
                             "(k = 1, 2, 4, ... needs n >= 4) or run several tree-search budgets")
        n_fitted += len(laws.curves)
        print(laws.summary())
        print()
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in task)
        written.append(laws.save(out_dir / f"{safe}.json"))
        if args.figures:
            from scaling.plots import save_all
            written += save_all(laws, task, args.figures)
        if args.by:
            written.append(_by_bins(args, samples[samples.task.astype(str) == task], task, hashes, out_dir))
    print(f"wrote {len(written)} file(s): {', '.join(str(p) for p in written)}")
    print(f"{n_fitted} curves fitted in {time.time() - t0:.1f}s")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

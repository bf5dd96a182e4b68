"""Benchmark of the fitting command and of the vectorised bootstrap refit.

1. ``python -m scaling.fit`` end to end (read, evaluate per problem, extrapolate, fit with a 200-replicate
   bootstrap, summary, JSON, figures) on the shipped data (``data/samples``) and on a synthetic
   5-size model family (200 problems x 64 solutions, every strategy) standing in for the family tables.
   Goal: under 60 s on 2 cores.
2. The bootstrap over problems: refitting B = 200 resampled curves by the vectorised Levenberg-Marquardt
   of :mod:`scaling.curves` versus a plain loop of ``scipy.optimize.least_squares`` (one call per
   replicate, warm-started), in the same run; prints the ratio and the largest parameter difference.

3. With ``--phases``: where the time of ``python -m scaling.fit DATA`` goes, in this process: wall and CPU
   seconds (this process and its worker processes) of reading, validation, matrices, per-problem values
   and extrapolations, curves and bootstrap, fits, summaries and figures.  ``--jobs`` as in the command.

Run: ``python benchmarks/bench_fit.py [--data data/samples] [--phases [--jobs N]]``
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def time_command(data: str, n_boot: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "scaling.fit", data, "--out", f"{tmp}/fits", "--figures",
                            f"{tmp}/figs", "--n-boot", str(n_boot), "--quiet"], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"scaling.fit failed on {data}:\n{r.stderr}")
        print(r.stdout.strip().splitlines()[-1])
    return dt


def bench_bootstrap(B: int = 200) -> None:
    from scipy import optimize

    from scaling.curves import FAMILIES, _fit_batch, _fit_family, binomial_se

    rng = np.random.default_rng(0)
    P = 500
    k = 2.0 ** np.arange(0, 11)
    C = 1e12 * k
    acc = 1 - (0.25 + 0.45 * k ** -0.6)
    V = (rng.random(P)[None, :] < acc[:, None]).astype(float)
    fam = FAMILIES["power_floor"]
    full = _fit_family(fam, C, V.mean(1), binomial_se(V.mean(1), P), C.min(), {})
    W = rng.multinomial(P, np.full(P, 1 / P), size=B).T / P
    A = (V @ W).T
    SE = binomial_se(A, P)
    t0 = time.perf_counter()
    fast = _fit_batch(fam, np.tile(C, (B, 1)), A, SE, C.min(), {}, full.x)
    t_fast = time.perf_counter() - t0
    logc = np.log(C / C.min())
    l10 = np.log10(C)
    t0 = time.perf_counter()
    slow = np.empty_like(fast)
    for b in range(B):
        def resid(p, b=b):
            return (fam.f(p[None, :], logc, l10, {})[0] - A[b]) / SE[b]
        slow[b] = optimize.least_squares(resid, full.x, bounds=(fam.lower, fam.upper), loss="huber",
                                         f_scale=1.345).x
    t_slow = time.perf_counter() - t0
    diff = np.nanmax(np.abs(fast - slow) / np.maximum(np.abs(slow), 1e-3))
    print(f"bootstrap refit, B={B}: vectorised {t_fast * 1e3:.0f} ms, per-replicate least_squares loop "
          f"{t_slow * 1e3:.0f} ms, ratio {t_slow / t_fast:.1f}x; largest relative parameter difference {diff:.1e}")


def _cpu() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


#: (module, attribute, phase): the stage functions whose time ``--phases`` reports.
STAGES = [("scaling.samples", "_read_one", "read: files"), ("scaling.samples", "validate", "read: validate per file"),
          ("scaling.samples", "concat_validated", "read: combine and check"),
          ("scaling.matrix", "_Columns.of", "evaluate: matrices (columns)"),
          ("scaling.matrix", "_one_matrix", "evaluate: matrices (groups)"),
          ("scaling.evaluation", "evaluate_groups", "evaluate: matrices, values, extrapolations"),
          ("scaling.evaluation", "_curves", "evaluate: curves + bootstrap"),
          ("scaling.evaluation", "aggregate_limits", "evaluate: limits + bootstrap"),
          ("scaling.laws", "fit", "fit (+ bootstrap refits)"), ("scaling.laws", "Laws.summary", "summaries"),
          ("scaling.laws", "Laws.save", "laws files"), ("scaling.fit", "_draw", "figures")]


def phases(data: str, n_jobs: int) -> None:
    """Run ``python -m scaling.fit DATA`` here with every stage of :data:`STAGES` timed."""
    import importlib
    from contextlib import redirect_stdout

    w0, c0 = time.perf_counter(), _cpu()
    import matplotlib
    matplotlib.use("Agg")
    import scaling.fit
    import scaling.plots  # noqa: F401  (imported here so that its import counts as start-up)
    wall, cpu = {"start-up (imports)": time.perf_counter() - w0}, {"start-up (imports)": _cpu() - c0}

    def timed(fn, phase):
        @functools.wraps(fn)
        def run(*a, **k):
            w, c = time.perf_counter(), _cpu()
            try:
                return fn(*a, **k)
            finally:
                wall[phase] = wall.get(phase, 0.0) + time.perf_counter() - w
                cpu[phase] = cpu.get(phase, 0.0) + _cpu() - c
        return run

    for module, path, phase in STAGES:
        owner = importlib.import_module(module)
        *outer, attr = path.split(".")
        for name in outer:
            owner = getattr(owner, name)
        setattr(owner, attr, timed(getattr(owner, attr), phase))
    with tempfile.TemporaryDirectory() as tmp:
        w, c = time.perf_counter(), _cpu()
        with redirect_stdout(io.StringIO()):
            rc = scaling.fit.main([data, "--out", f"{tmp}/fits", "--figures", f"{tmp}/figs", "--quiet",
                                   "--jobs", str(n_jobs)])
        total_w, total_c = time.perf_counter() - w + wall["start-up (imports)"], _cpu() - c + cpu["start-up (imports)"]
    assert rc == 0, rc
    print(f"python -m scaling.fit {data} --jobs {n_jobs}, by phase (load average {os.getloadavg()[0]:.2f}):")
    print(f"  {'phase':40s} {'wall s':>8s} {'CPU s':>8s}")
    for phase in wall:
        print(f"  {phase:40s} {wall[phase]:8.2f} {cpu[phase]:8.2f}")
    print(f"  {'total':40s} {total_w:8.2f} {total_c:8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/samples")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--phases", action="store_true", help="only the time of each phase of the command, in-process")
    ap.add_argument("--jobs", type=int, default=-1, help="(--phases) worker processes, as the command's --jobs")
    args = ap.parse_args()
    if args.phases:
        phases(args.data, args.jobs)
        return
    bench_bootstrap()
    if Path(args.data).exists():
        dt = time_command(args.data, args.n_boot)
        print(f"python -m scaling.fit {args.data}: {dt:.1f} s wall (goal < 60 s on 2 cores)")
    import scaling
    from scaling.synthetic import family_table

    with tempfile.TemporaryDirectory() as tmp:
        scaling.write_samples(family_table(n_problems=200, n_samples=64), Path(tmp) / "family.parquet")
        dt = time_command(tmp, args.n_boot)
        print(f"python -m scaling.fit <synthetic 5-size family, 200 problems x 64>: {dt:.1f} s wall "
              "(goal < 60 s on 2 cores)")


if __name__ == "__main__":
    main()

"""Benchmark of the fitting command and of the vectorised bootstrap refit.

1. ``python -m scaling.fit`` end to end (read, evaluate per problem, extrapolate, fit with a 200-replicate
   bootstrap, summary, JSON, figures) on the shipped data (``data/samples``) and on a synthetic
   5-size model family (200 problems x 64 solutions, every strategy) standing in for the family tables.
   Goal: under 60 s on 2 cores.
2. The bootstrap over problems: refitting B = 200 resampled curves by the vectorised Levenberg-Marquardt
   of :mod:`scaling.curves` versus a plain loop of ``scipy.optimize.least_squares`` (one call per
   replicate, warm-started), in the same run; prints the ratio and the largest parameter difference.

Run: ``python benchmarks/bench_fit.py [--data data/samples]``
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/samples")
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
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

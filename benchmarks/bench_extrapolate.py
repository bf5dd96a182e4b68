"""How well ``scaling.extrapolate`` predicts accuracy far beyond the cached samples, world by world.

For each generated world (``scaling.synthetic``: success-rate shapes with and without never-solvable
problems, logit-t difficulty, mixtures; sigmoid, raw-logit and PRM-min rewards with logistic, normal,
t4 and Gumbel noise) and each replicate (new problems, new samples), ``n`` solutions per problem are
cached and every strategy is predicted at 16x and 64x ``n`` (pass@k also at 80x).  The truth is
population-level: pass@k exact, best-of-n exact by quadrature, majority / weighted majority by Monte
Carlo over fresh draws, never from the cached samples.

Printed: per world and strategy, the mean absolute error of the project's models ("ours") and of the
power-law anchor of Brown et al. (2024) fitted to the cached curve ("anchor"), side by side, and
whether the 95 % interval covered the truth; then the interval coverage per strategy and multiple.

    python benchmarks/bench_extrapolate.py                 # 14 worlds x 2 replicates + real data (~5 min)
    python benchmarks/bench_extrapolate.py --reps 6 --csv results.csv     # tighter coverage estimates
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import special  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from scaling.extrapolate import STRATEGIES, extrapolate, fit_success_model, power_law_anchor  # noqa: E402
from scaling.matrix import to_matrices  # noqa: E402
from scaling.synthetic import exact_best_of_n, make_world, population_accuracy, sample_table  # noqa: E402

BETA = "beta"
WORLDS: dict[str, dict] = {
    # the world: heavy Beta left tail, 8 % never solvable, Zipf wrong answers, sigmoid reward
    "issue": dict(n_problems=200, success={"kind": BETA, "a": 0.35, "b": 1.2}, impossible=0.08, n_wrong=(3, 60),
                  zipf=1.1),
    "beta-pure": dict(success={"kind": BETA, "a": 0.35, "b": 1.2}, impossible=0.0),
    "beta-light+zero": dict(success={"kind": BETA, "a": 0.8, "b": 2.0}, impossible=0.03, noise_dist="normal"),
    "beta-veryheavy": dict(success={"kind": BETA, "a": 0.15, "b": 1.5}, impossible=0.0, reward="logit"),
    "logit-t3+zero": dict(impossible=0.08),
    "logit-t2-heavy": dict(success={"kind": "logit_t", "df": 2, "scale": 2.0}, skill=-1.0, impossible=0.0,
                           noise_dist="normal", noise_right=0.6),
    "logit-t5+zero15": dict(success={"kind": "logit_t", "df": 5, "scale": 2.0}, impossible=0.15,
                            noise_dist="t4", reward="logit"),
    "logit-normal": dict(success={"kind": "logit_normal", "scale": 2.0}, skill=-1.0, impossible=0.0,
                         noise_dist="gumbel"),
    "mix-beta+zero-prm": dict(success={"kind": "mixture", "parts": [(0.6, {"kind": BETA, "a": 2.0, "b": 2.0}),
                                                                     (0.4, {"kind": BETA, "a": 0.2, "b": 3.0})]},
                              impossible=0.05, reward="prm_min"),
    "mix-t-beta-strong": dict(success={"kind": "mixture", "parts": [(0.5, {"kind": "logit_t", "df": 3, "scale": 1.0}),
                                                                     (0.5, {"kind": BETA, "a": 0.3, "b": 2.0})]},
                              impossible=0.04, sep=3.0, noise=0.5),
    "hard-few-solved": dict(success={"kind": BETA, "a": 0.3, "b": 4.0}, skill=-1.0, impossible=0.10),
    "easy": dict(skill=2.0, impossible=0.02, noise_dist="gumbel"),
    "prm-beta+zero": dict(success={"kind": BETA, "a": 0.5, "b": 1.5}, impossible=0.05, reward="prm_min",
                          noise_dist="normal"),
    "strong-verifier": dict(sep=3.0, noise=0.5, difficulty_scale=3.0, skill=-1.0, impossible=0.03),
}


_PRIOR_DRAWS: dict = {}


def oracle_pass_at_k(name: str, spec: dict, c: np.ndarray, n: int, ks) -> dict:
    """pass@k predicted with the *true* success-rate distribution (a large fresh draw of the same world):
    the error no estimator of the prior can beat with these problems, the floor of the table."""
    if name not in _PRIOR_DRAWS:
        _PRIOR_DRAWS[name] = make_world(50_000, seed=999, n_wrong=(2, 2), **{
            k: v for k, v in spec.items() if k not in ("n_problems", "n_wrong", "zipf")}).p_correct
    big = _PRIOR_DRAWS[name]
    cs, inv = np.unique(c, return_inverse=True)
    logw = special.xlogy(cs[:, None], big[None, :]) + special.xlog1py(n - cs[:, None], -big[None, :])
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        miss = np.log1p(-big)
    return {k: float((w @ -np.expm1(k * miss))[inv.ravel()].mean()) for k in ks}


def run_world(name: str, spec: dict, rep: int, n: int, mults, truth_reps: int, problems: int,
              strategies=STRATEGIES, fit_kw: dict | None = None) -> list[dict]:
    spec = dict(spec)
    P = spec.pop("n_problems", problems)
    world = make_world(P, seed=1000 * rep + 7, **spec)
    table = sample_table(world, n, seed=1000 * rep + 8)
    m = to_matrices(table)[0]
    ks = [n * k for k in mults]
    rows = []
    success = fit_success_model(m.correct.sum(axis=1), (m.codes != -2).sum(axis=1), seed=rep, **(fit_kw or {}))
    voting = [s for s in strategies if s in ("majority", "weighted_majority")]
    truth = {k: population_accuracy(world, k, reps=truth_reps, seed=rep,
                                    strategies=voting if k <= 64 * n else []) for k in ks}
    if "best_of_n" in strategies:
        bon = exact_best_of_n(world, [k for k in ks if k <= 64 * n])
        for k, v in bon.items():
            truth[k].update(best_of_n=float(v.mean()), best_of_n_se=0.0)
    oracle = oracle_pass_at_k(name, spec, m.correct.sum(axis=1), n, ks) if "pass_at_k" in strategies else {}
    for s in strategies:
        if s == "weighted_majority" and world.reward_kind == "logit":
            continue  # a sum of raw logits is not a vote
        kk = ks if s == "pass_at_k" else [k for k in ks if k <= 64 * n]
        t0 = time.perf_counter()
        out = extrapolate(m, s, ks=kk, seed=rep, success=success)
        secs = time.perf_counter() - t0
        anchor = power_law_anchor(m, s, kk, seed=rep)
        for j, k in enumerate(kk):
            t = truth[k][s]
            r = out.iloc[j]
            rows.append({"world": name, "rep": rep, "strategy": s, "mult": k // n, "k": k, "truth": t,
                         "truth_se": truth[k].get(s + "_se", 0.0), "ours": r.accuracy, "lo": r.ci_low,
                         "hi": r.ci_high, "anchor": float(anchor[j]), "prior": r.prior,
                         "check_error": r.check_error, "seconds": secs, "zeros": float((m.correct.sum(1) == 0).mean()),
                         "oracle": oracle.get(k, np.nan) if s == "pass_at_k" else np.nan})
    return rows


def run_real(path: str, n: int, ks, seed: int = 0) -> list[dict]:
    """Real data: cache the first ``n`` solutions of each problem, predict at ``ks``, and compare with the
    exact estimate from all solutions (the shipped family holds 256 per problem)."""
    import glob

    from scaling.extrapolate import _arrays, _exact_at

    rows = []
    for f in sorted(glob.glob(os.path.join(path, "*.parquet"))):
        t = pd.read_parquet(f)
        t = t[t.method == "sample"]
        if t.empty or t.groupby("problem_id").size().min() < max(ks):
            continue
        full = to_matrices(t)[0]
        m = to_matrices(t[t.sample_id < n])[0]
        a = _arrays(full)
        success = fit_success_model(m.correct.sum(axis=1), (m.codes != -2).sum(axis=1), seed=seed)
        for s in STRATEGIES:
            out = extrapolate(m, s, ks=ks, seed=seed, success=success)
            anchor = power_law_anchor(m, s, ks, seed=seed)
            for j, k in enumerate(ks):
                truth = float(_exact_at(a, s, int(k), seed).mean())
                r = out.iloc[j]
                rows.append({"world": "real:" + str(t.model.iloc[0]), "rep": 0, "strategy": s, "mult": k // n, "k": k,
                             "truth": truth, "truth_se": 0.0, "ours": r.accuracy, "lo": r.ci_low, "hi": r.ci_high,
                             "anchor": float(anchor[j]), "prior": r.prior, "check_error": r.check_error,
                             "seconds": 0.0, "zeros": float((m.correct.sum(1) == 0).mean())})
    return rows


def report(df: pd.DataFrame) -> None:
    real = df[df.world.str.startswith("real:")]
    df = df[~df.world.str.startswith("real:")]
    df = df.assign(err=df.ours - df.truth, aerr=df.anchor - df.truth,
                   covered=(df.lo <= df.truth) & (df.truth <= df.hi), width=df.hi - df.lo)
    short = {"pass_at_k": "coverage", "best_of_n": "best-of-n", "majority": "majority", "weighted_majority": "weighted"}
    for mult in sorted(df.mult.unique()):
        d = df[df.mult == mult]
        print(f"\n=== {mult}x the cached samples: mean |error| ours / anchor  [interval coverage]  (R = {d.rep.nunique()})")
        strats = [s for s in STRATEGIES if s in set(df.strategy)]
        head = f"{'world':20s}" + "".join(f"{short[s]:>24s}" for s in strats)
        print(head)
        for w in df.world.unique():
            line = f"{w:20s}"
            for s in strats:
                e = d[(d.world == w) & (d.strategy == s)]
                if e.empty:
                    line += f"{'-':>24s}"
                    continue
                mark = "*" if e.err.abs().mean() < e.aerr.abs().mean() else " "
                line += f"{e.err.abs().mean():>9.3f}{mark}/{e.aerr.abs().mean():.3f} [{e.covered.mean():.2f}]"
            print(line)
        line = f"{'mean':20s}"
        for s in strats:
            e = d[d.strategy == s]
            line += f"{e.err.abs().mean():>10.3f}/{e.aerr.abs().mean():.3f} [{e.covered.mean():.2f}]"
        print(line)
    d = df[df.strategy == "pass_at_k"].assign(oerr=lambda x: (x.oracle - x.truth).abs())
    if d.oracle.notna().any():
        print("\n=== coverage (pass@k): mean |error| of ours / anchor / oracle (the true prior, the floor)")
        tab = d.groupby(["world", "mult"], sort=False).agg(ours=("err", lambda x: x.abs().mean()),
                                                          anchor=("aerr", lambda x: x.abs().mean()),
                                                          oracle=("oerr", "mean")).unstack("mult")
        print(tab.round(3).to_string())
    print("\n=== interval coverage at nominal 95 % (all worlds and replicates)")
    cov = df.groupby(["strategy", "mult"]).agg(coverage=("covered", "mean"), n=("covered", "size"),
                                               width=("width", "mean"), mae=("err", lambda x: x.abs().mean()),
                                               bias=("err", "mean"), max_err=("err", lambda x: x.abs().max()))
    print(cov.round(3).to_string())
    print("\n=== worlds where ours beats the anchor (mean |error|), per strategy and multiple")
    win = df.groupby(["strategy", "mult", "world"]).apply(
        lambda g: g.err.abs().mean() < g.aerr.abs().mean(), include_groups=False).groupby(["strategy", "mult"]).agg(
        ["sum", "size"])
    print(win.to_string())
    print("\n* = ours beats the anchor in that world; errors are predicted minus true accuracy.")
    if len(real):
        real = real.assign(err=real.ours - real.truth, aerr=real.anchor - real.truth,
                           covered=(real.lo <= real.truth) & (real.truth <= real.hi))
        print("\n=== real data (the shipped model family, PRM rewards): the first 16 of 256 solutions cached, "
              "truth = the exact estimate from all 256;\n    error ours / anchor [interval covered]")
        for mult in sorted(real.mult.unique()):
            d = real[real.mult == mult]
            print(f"--- {mult}x")
            for w in d.world.unique():
                line = f"{w:22s}"
                for s in STRATEGIES:
                    e = d[(d.world == w) & (d.strategy == s)]
                    mark = "*" if e.err.abs().mean() < e.aerr.abs().mean() else " "
                    line += f"{e.err.iloc[0]:>+9.3f}{mark}/{e.aerr.iloc[0]:+.3f} [{int(e.covered.iloc[0])}]"
                print(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2, help="replicate worlds per shape")
    ap.add_argument("--n", type=int, default=64, help="cached samples per problem")
    ap.add_argument("--problems", type=int, default=300, help="problems per world (the issue world keeps 200)")
    ap.add_argument("--truth-reps", type=int, default=8, help="Monte-Carlo replicates of the voting truths")
    ap.add_argument("--worlds", nargs="*", default=None, help="subset of world names")
    ap.add_argument("--strategies", nargs="*", default=list(STRATEGIES), help="subset of strategies")
    ap.add_argument("--real", default=os.path.join(os.path.dirname(__file__), "..", "data", "samples", "arith"),
                    help="real sample tables (256 solutions per problem): first 16 cached, 256 predicted "
                         "('' to skip)")
    ap.add_argument("--csv", default=None, help="write every row here")
    args = ap.parse_args(argv)
    names = args.worlds or list(WORLDS)
    rows = []
    t0 = time.time()
    for name in names:
        t1 = time.time()
        for rep in range(args.reps):
            rows += run_world(name, WORLDS[name], rep, args.n, (16, 64, 80), args.truth_reps, args.problems,
                              args.strategies)
        print(f"{name:20s} {time.time() - t1:6.1f}s", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    if args.real and os.path.isdir(args.real):
        t1 = time.time()
        real = pd.DataFrame(run_real(args.real, 16, [128, 256]))
        print(f"{'real data':20s} {time.time() - t1:6.1f}s", file=sys.stderr, flush=True)
        df = pd.concat([df, real], ignore_index=True)
    if args.csv:
        df.to_csv(args.csv, index=False)
    report(df)
    print(f"\n{len(names)} worlds x {args.reps} replicates, n = {args.n}: {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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

``--real`` runs real data instead, through the path a user takes (``scaling.evaluate(samples,
extrapolate_to=K)`` with its defaults, ``.fit()``, ``Laws.predict`` at K's FLOPs), over several random
draws of the cached solutions: CodeContests (``data/real-coverage``: n of 10,000 outcomes per problem,
coverage predicted at 10,000) and the shipped family (``data/samples/arith``: 16 of 256 solutions,
every strategy predicted at 256, the truth the exact value from all 256).  Printed per model: ours and
the anchor, mean and worst absolute error over the draws, the share of draws whose 95 % interval
covered the truth, and the candidate the in-data check chose.

    python benchmarks/bench_extrapolate.py                 # 14 worlds x 2 replicates (~5 min)
    python benchmarks/bench_extrapolate.py --reps 6 --csv results.csv     # tighter coverage estimates
    python benchmarks/bench_extrapolate.py --real          # CodeContests 32/128/512 -> 10,000, family 16 -> 256
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import special  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
DATA = os.path.join(os.path.dirname(__file__), "..", "data")

import scaling  # noqa: E402
from scaling.curves import ExtrapolationWarning  # noqa: E402
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


N_CC = 10_000


def codecontests_table(counts: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A sample table of ``n`` of each problem's 10,000 outcomes, drawn without replacement (the number
    of passing ones is hypergeometric), one generated token per solution (FLOPs = 2 x params per
    sample), passing programs answer ``pass`` and the others nothing."""
    rng = np.random.default_rng(seed)
    c = rng.hypergeometric(counts.correct.to_numpy(), counts.samples.to_numpy() - counts.correct.to_numpy(), n)
    P = len(counts)
    correct = np.arange(n)[None, :] < c[:, None]
    correct = np.take_along_axis(correct, rng.permuted(np.tile(np.arange(n), (P, 1)), axis=1), axis=1)
    return pd.DataFrame({"task": "codecontests", "problem_id": np.repeat(counts.problem.astype(str).to_numpy(), n),
                         "model": np.repeat(counts.model.to_numpy(), n), "params": np.repeat(counts.params.to_numpy(), n),
                         "method": "sample", "sample_id": np.tile(np.arange(n), P),
                         "answer": np.where(correct.ravel(), "pass", None), "correct": correct.ravel(),
                         "gen_tokens": 1})


def _library_path(samples: pd.DataFrame, horizon: int, strategies) -> tuple:
    """What a user runs: evaluate with defaults and the horizon, fit, predict at the horizon's FLOPs."""
    ev = scaling.evaluate(samples, strategies=strategies, extrapolate_to=horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        laws = ev.fit()
    return ev, laws


def run_codecontests(path: str, ns, draws: int) -> list[dict]:
    """CodeContests (Large Language Monkeys): draw n of the 10,000 outcomes per problem, predict coverage
    at 10,000 through the library path, compare with the share of problems solved in all 10,000."""
    counts = pd.read_csv(path)
    truth = counts.assign(s=counts.correct > 0).groupby("model").s.mean()
    rows = []
    for n in ns:
        for seed in range(draws):
            t0 = time.time()
            samples = codecontests_table(counts, n, seed)
            ev, laws = _library_path(samples, N_CC, ["pass_at_k"])
            summ = ev.extrapolated_summary
            for m in to_matrices(samples):
                model = m.key["model"]
                s = summ[(summ.model == model) & (summ.k == N_CC)].iloc[0]
                acc, lo, hi = laws.predict(float(s.flops), model=model, method="sample", strategy="pass_at_k",
                                           interval=True)
                rows.append({"data": "codecontests", "model": model, "n": n, "k": N_CC, "seed": seed,
                             "strategy": "pass_at_k", "truth": float(truth[model]), "ours": acc, "lo": lo, "hi": hi,
                             "model_value": float(s.accuracy), "anchor": float(power_law_anchor(m, "pass_at_k", [N_CC])[0]),
                             "prior": s.prior, "check_error": s.check_error, "anchor_check_error": s.anchor_check_error})
            print(f"codecontests n={n} draw {seed}: {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return rows


def run_family(path: str, n: int, k: int, draws: int) -> list[dict]:
    """The shipped family (256 solutions per problem): draw ``n`` of each problem's solutions without
    replacement, predict every strategy at ``k`` through the library path, compare with the exact value
    from all solutions."""
    import glob

    from scaling.extrapolate.exact import _exact_at
    from scaling.extrapolate.groups import _arrays

    tables = [pd.read_parquet(f) for f in sorted(glob.glob(os.path.join(path, "*.parquet")))]
    full = pd.concat([t[t.method == "sample"] for t in tables], ignore_index=True)
    full = full[full.groupby(["model", "problem_id"]).sample_id.transform("size") >= k]
    truths = {(m.key["model"], s): float(_exact_at(_arrays(m), s, k, 0).mean())
              for m in to_matrices(full) for s in STRATEGIES}
    rows = []
    for seed in range(draws):
        t0 = time.time()
        rank = np.random.default_rng(seed).random(len(full))
        order = full.assign(_r=rank).groupby(["model", "problem_id"])._r.rank(method="first")
        sub = full[order.to_numpy() <= n]
        ev, laws = _library_path(sub, k, None)
        summ = ev.extrapolated_summary
        for m in to_matrices(sub):
            model = m.key["model"]
            for s in STRATEGIES:
                r = summ[(summ.model == model) & (summ.strategy == s) & (summ.k == k)]
                if r.empty:
                    continue
                r = r.iloc[0]
                acc, lo, hi = laws.predict(float(r.flops), model=model, method="sample", strategy=s, interval=True)
                rows.append({"data": "family", "model": model, "n": n, "k": k, "seed": seed, "strategy": s,
                             "truth": truths[model, s], "ours": acc, "lo": lo, "hi": hi, "model_value": float(r.accuracy),
                             "anchor": float(power_law_anchor(m, s, [k], seed=seed)[0]), "prior": r.prior,
                             "check_error": r.check_error, "anchor_check_error": r.anchor_check_error})
        print(f"family n={n} draw {seed}: {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return rows


def report_real(df: pd.DataFrame) -> None:
    """Per data set, n and strategy: ours against the anchor per model (mean and worst absolute error over
    the draws), the share of draws whose interval covered the truth, and what the check chose."""
    df = df.assign(err=(df.ours - df.truth).abs(), aerr=(df.anchor - df.truth).abs(),
                   covered=(df.lo - 1e-9 <= df.truth) & (df.truth <= df.hi + 1e-9), width=df.hi - df.lo)
    gap = float((df.ours - df.model_value).abs().max())
    for (data, n, k, strategy), d in df.groupby(["data", "n", "k", "strategy"], sort=False):
        print(f"\n=== {data}: {n} -> {k} samples, {strategy}, {d.seed.nunique()} draws: |error| mean / worst, "
              "ours vs the power law; interval coverage; choice of the check")
        print(f"{'model':24s} {'truth':>6s} {'ours':>13s} {'anchor':>13s} {'covered':>8s} {'width':>6s}  choice")
        for model, e in d.groupby("model"):
            choice = ", ".join(f"{p} x{c}" for p, c in e.prior.value_counts().items())
            print(f"{model:24s} {e.truth.iloc[0]:6.3f} {e.err.mean():6.3f} / {e.err.max():.3f} "
                  f"{e.aerr.mean():6.3f} / {e.aerr.max():.3f} {e.covered.mean():8.2f} {e.width.mean():6.3f}  {choice}")
        mark = "below" if (d.err.mean() < d.aerr.mean() and d.err.max() < d.aerr.max()) else "NOT below"
        print(f"{'all':24s} {'':6s} {d.err.mean():6.3f} / {d.err.max():.3f} {d.aerr.mean():6.3f} / {d.aerr.max():.3f} "
              f"{d.covered.mean():8.2f} {d.width.mean():6.3f}  ours {mark} the anchor in mean and worst")
    print(f"\nlibrary path: Laws.predict at the horizon vs the per-problem model's own value: max |diff| {gap:.2e}")


def report(df: pd.DataFrame) -> None:
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2, help="replicate worlds per shape")
    ap.add_argument("--n", type=int, default=64, help="cached samples per problem")
    ap.add_argument("--problems", type=int, default=300, help="problems per world (the issue world keeps 200)")
    ap.add_argument("--truth-reps", type=int, default=8, help="Monte-Carlo replicates of the voting truths")
    ap.add_argument("--worlds", nargs="*", default=None, help="subset of world names")
    ap.add_argument("--strategies", nargs="*", default=list(STRATEGIES), help="subset of strategies")
    ap.add_argument("--real", action="store_true",
                    help="real data instead of the generated worlds: CodeContests and the shipped family")
    ap.add_argument("--draws", type=int, default=5, help="--real: random draws of the cached solutions")
    ap.add_argument("--cc-n", type=int, nargs="*", default=[32, 128, 512],
                    help="--real: CodeContests outcomes cached per problem (predicted at 10,000)")
    ap.add_argument("--codecontests", default=os.path.join(DATA, "real-coverage", "codecontests_counts.csv"),
                    help="--real: the CodeContests counts ('' to skip)")
    ap.add_argument("--family", default=os.path.join(DATA, "samples", "arith"),
                    help="--real: the shipped family's sample tables, 16 of 256 cached ('' to skip)")
    ap.add_argument("--csv", default=None, help="write every row here")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.real:
        rows = []
        if args.codecontests:
            rows += run_codecontests(args.codecontests, args.cc_n, args.draws)
        if args.family:
            rows += run_family(args.family, 16, 256, args.draws)
        df = pd.DataFrame(rows)
        if args.csv:
            df.to_csv(args.csv, index=False)
        report_real(df)
        print(f"\nreal data, {args.draws} draws: {time.time() - t0:.0f}s")
        return 0
    names = args.worlds or list(WORLDS)
    rows = []
    for name in names:
        t1 = time.time()
        for rep in range(args.reps):
            rows += run_world(name, WORLDS[name], rep, args.n, (16, 64, 80), args.truth_reps, args.problems,
                              args.strategies)
        print(f"{name:20s} {time.time() - t1:6.1f}s", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    report(df)
    print(f"\n{len(names)} worlds x {args.reps} replicates, n = {args.n}: {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

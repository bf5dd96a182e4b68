"""Time scaling.evaluate against a plain per-problem Python loop (the paper's style of evaluation).

Workload: 200 problems x 256 solutions, 2-30 answer classes per problem, rewards for every solution;
majority, weighted majority, best-of-n and pass@k at k = 1, 2, 4, ..., 256.

Baseline: for each problem and k, draw 100 random size-k subsets and score every strategy on each
(a Python loop per problem and per subset, as the paper's released evaluation does).

Also times the large case, 5 models x 500 problems x 1024 solutions, and reports peak memory.

    python benchmarks/bench_evaluate.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
import pandas as pd

import scaling
from scaling import estimators as est
from scaling.matrix import to_matrices

STRATS = ["majority", "weighted_majority", "best_of_n", "pass_at_k"]


def synthetic_table(n_problems: int, n_solutions: int, seed: int = 0, model: str = "m", params: float = 1e9,
                    max_classes: int = 30) -> pd.DataFrame:
    """Problems with 2-30 answer classes (Dirichlet weights), 5 % null answers, one correct class and
    a noisy reward that favours correct solutions."""
    rng = np.random.default_rng(seed)
    n_cls = rng.integers(2, max_classes + 1, size=n_problems)
    rows = []
    for p in range(n_problems):
        w = rng.dirichlet(np.full(n_cls[p], 0.5))
        codes = rng.choice(n_cls[p], size=n_solutions, p=w)
        good = rng.integers(0, n_cls[p])
        null = rng.random(n_solutions) < 0.05
        correct = (codes == good) & ~null
        reward = np.clip(rng.normal(0.45 + 0.2 * correct, 0.2), 0, 1).round(3)
        rows.append(pd.DataFrame({
            "problem_id": f"p{p}", "sample_id": np.arange(n_solutions),
            "answer": np.where(null, None, codes.astype(str)), "correct": correct, "reward": reward,
            "gen_tokens": rng.integers(50, 400, size=n_solutions)}))
    df = pd.concat(rows, ignore_index=True)
    df["answer"] = df["answer"].astype(object).where(df["answer"].notna(), None)
    df["task"], df["model"], df["params"], df["method"] = "synthetic", model, params, "sample"
    return df


def baseline(samples: pd.DataFrame, ks: list[int], n_subsets: int = 100, seed: int = 0) -> pd.DataFrame:
    """Per-problem Python loop drawing ``n_subsets`` random subsets per k (the plain approach)."""
    rng = np.random.default_rng(seed)
    out = defaultdict(list)
    for _, g in samples.groupby("problem_id", sort=False):
        answers = g["answer"].tolist()
        correct = g["correct"].to_numpy()
        reward = g["reward"].to_numpy()
        truth = {a for a, c in zip(answers, correct, strict=True) if c}
        n = len(answers)
        for k in ks:
            acc = dict.fromkeys(STRATS, 0.0)
            for _ in range(n_subsets):
                idx = rng.choice(n, size=min(k, n), replace=False)
                votes: dict = defaultdict(int)
                wvotes: dict = defaultdict(float)
                for i in idx:
                    if answers[i] is not None:
                        votes[answers[i]] += 1
                        wvotes[answers[i]] += reward[i]
                if votes:
                    top = max(votes.values())
                    win = [a for a, v in votes.items() if v == top]
                    acc["majority"] += sum(a in truth for a in win) / len(win)
                    top = max(wvotes.values())
                    win = [a for a, v in wvotes.items() if v == top]
                    acc["weighted_majority"] += sum(a in truth for a in win) / len(win)
                best = max(reward[i] for i in idx)
                tops = [i for i in idx if reward[i] == best]
                acc["best_of_n"] += sum(correct[i] for i in tops) / len(tops)
                acc["pass_at_k"] += bool(correct[idx].any())
            for s in STRATS:
                out[(s, k)].append(acc[s] / n_subsets)
    return pd.DataFrame([{"strategy": s, "k": k, "accuracy": float(np.mean(v)), "per_problem": np.array(v)}
                         for (s, k), v in out.items()])


def large_case() -> None:
    t0 = time.perf_counter()
    tables = [synthetic_table(500, 1024, seed=i, model=f"m{i}", params=10 ** (8 + i / 2)) for i in range(5)]
    samples = scaling.validate(pd.concat(tables, ignore_index=True))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    curves = scaling.evaluate(samples, strategies=STRATS, n_jobs=2, extrapolate=()).curves
    t_eval = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"large: 5 models x 500 problems x 1024 solutions ({len(samples):,} rows): evaluate (2 processes) "
          f"{t_eval:.2f} s "
          f"({len(curves)} curve points; table build {t_build:.1f} s); peak RSS {rss:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="50 problems instead of 200, no large case")
    ap.add_argument("--large-only", action="store_true")
    args = ap.parse_args()
    if args.large_only:
        large_case()
        return
    n_prob = 50 if args.quick else 200
    ks = [2 ** i for i in range(9)]
    samples = scaling.validate(synthetic_table(n_prob, 256))

    def timed(fn):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - w0, time.process_time() - c0

    # warm-up on a small table so one-time start-up costs (lazy imports, first-call caches) are not timed
    scaling.evaluate(scaling.validate(synthetic_table(5, 16, seed=99)), strategies=STRATS, n_boot=10, extrapolate=())
    ours, t_ours, c_ours = timed(lambda: scaling.evaluate(samples, strategies=STRATS, ks=ks, n_boot=0,
                                                              extrapolate=()).curves)
    _, t_ours_ci, c_ours_ci = timed(lambda: scaling.evaluate(samples, strategies=STRATS, ks=ks, extrapolate=()))
    base, t_base, c_base = timed(lambda: baseline(samples, ks))

    # precision: exact values for majority / best-of-n / pass@k; a 4096-draw Monte Carlo for weighted
    m = to_matrices(samples)[0]
    rows = []
    for k in ks:
        exact = {"majority": est.majority_at_k(m.codes, m.class_value, m.n, k),
                 "best_of_n": est.best_of_k(m.reward, m.correct, m.n, k),
                 "pass_at_k": est.pass_at_k(m.n, m.correct.sum(axis=1), k)}
        for s, v in exact.items():
            b = base.query("strategy == @s and k == @k").iloc[0]
            o = ours.query("strategy == @s and k == @k").iloc[0]
            rows.append({"strategy": s, "k": k, "ours_err": abs(o.accuracy - v.mean()),
                         "baseline_err": abs(b.accuracy - v.mean())})
        o = ours.query("strategy == 'weighted_majority' and k == @k").iloc[0]
        b = base.query("strategy == 'weighted_majority' and k == @k").iloc[0]
        se_base = np.sqrt(np.sum(b.per_problem * (1 - b.per_problem)) / 100) / len(m.n)
        rows.append({"strategy": "weighted_majority", "k": k, "ours_err": o.mc_se, "baseline_err": se_base})
    prec = pd.DataFrame(rows)
    print(f"{n_prob} problems x 256 solutions, strategies {STRATS}, k = {ks}")
    print("                                           wall s    CPU s")
    print(f"  scaling.evaluate (no bootstrap):        {t_ours:7.3f}  {c_ours:7.3f}")
    print(f"  scaling.evaluate (1000 bootstrap CIs):  {t_ours_ci:7.3f}  {c_ours_ci:7.3f}")
    print(f"  baseline per-problem loop, 100 subsets: {t_base:7.3f}  {c_base:7.3f}")
    print(f"  speed-up: {t_base / t_ours:.1f}x wall, {c_base / c_ours:.1f}x CPU "
          f"(with CIs {t_base / t_ours_ci:.1f}x wall, {c_base / c_ours_ci:.1f}x CPU)")
    print("  error of the task-level accuracy (exact strategies: |estimate - exact|; weighted: Monte-Carlo SE):")
    print(prec.groupby("strategy")[["ours_err", "baseline_err"]].max().to_string(float_format="%.2e"))
    if not args.quick:
        subprocess.run([sys.executable, __file__, "--large-only"], check=True)


if __name__ == "__main__":
    main()

"""Time scaling.evaluate against a plain per-problem Python loop (the paper's style of evaluation).

Workload: 200 problems x 256 solutions, 2-30 answer classes per problem, rewards for every solution;
majority, weighted majority, best-of-n and pass@k at k = 1, 2, 4, ..., 256.

Baseline: for each problem and k, draw 100 random size-k subsets and score every strategy on each
(a Python loop per problem and per subset, as the paper's released evaluation does).

Printed, all measured in this run, interleaved, minimum over ``--repeat`` runs (the machine is shared):

* evaluate (100 draws for weighted majority: the loop's precision; and evaluate's default 128) vs the
  loop, as a ratio, with the error of each task-level accuracy (exact strategies: |estimate - exact|;
  weighted majority: the Monte-Carlo standard error of both);
* the current majority kernel per k and for all k in one call, and the weighted-majority Monte Carlo
  at 100 and 128 draws;
* with ``--large``, 5 models x 500 problems x 1024 solutions: evaluate's time and peak memory (in a
  fresh process), one process and two worker processes;
  the CPU seconds of the process and of its workers and the wall time they imply on free cores; the
  time of ``scaling.validate`` on the table; memory is the process's RSS with the table loaded and its
  peak during evaluate (Linux).

    python benchmarks/bench_evaluate.py [--quick] [--large] [--large-only] [--repeat N]

Before and after issue 14 (kernels rewritten after 0.1.0; measured then, on this project's 2-core machine,
in one run of this script with the 0.1.0 kernels patched in; the frozen 0.1.0 copy was removed in issue 21,
so these figures are kept here as text and in the issue 14 closing note):

* 200 problems x 256 solutions, all strategies, k = 1..256: evaluate 0.201 s wall at 100 draws = 42.9x
  the per-problem loop (8.642 s), 0.169 s at 128 draws = 51.1x, with 1000 bootstrap CIs 44.0x; the 0.1.0
  kernels in the same run 9.9x (0.50 s -> 0.18 s for evaluate: 15.6x -> 43x against the loop).
* Kernels: exact majority 3.2x faster, weighted-majority Monte Carlo 3.7-5x faster, agreeing to 1e-14;
  majority now vs 0.1.0 differed by up to 5.8e-13 (0.1.0's gammaln cancellation; now ~1e-15 against
  exact rationals in tests/test_estimators.py).  0.1.0 also raised IndexError with several right classes.
* 5 models x 500 x 1024 (2.56M rows): 29.6 s and 2.0 GB with the 0.1.0 kernels; after, n_jobs=1 10.32 s,
  n_jobs=2 8.87 s wall, peak 1.07 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

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


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def interleaved(fns: dict, repeat: int) -> tuple[dict, dict]:
    """Run every function ``repeat`` times, interleaved (the order rotates each round, so no contender
    always runs right after the same one); minimum wall and CPU seconds, last output."""
    wall = dict.fromkeys(fns, np.inf)
    cpu = dict.fromkeys(fns, np.inf)
    out = {}
    names = list(fns)
    for i in range(repeat):
        for name in names[i % len(names):] + names[:i % len(names)]:
            fn = fns[name]
            w0, c0 = time.perf_counter(), time.process_time()
            out[name] = fn()
            wall[name] = min(wall[name], time.perf_counter() - w0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return {"wall": wall, "cpu": cpu}, out


def _status_mib(field: str) -> float:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in MiB; NaN where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak_rss() -> None:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs``), so evaluate's own peak can be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def large_case(n_jobs: int) -> None:
    """5 models x 500 problems x 1024 solutions (in a fresh process, so peak RSS is this case's).

    Besides wall time (inflated when other jobs share the cores), prints the CPU seconds of this process
    and of its workers, and from them the wall time on ``n_jobs`` free cores: the parent's CPU (the serial
    part: matrices, shards, tables, bootstrap) plus the workers' CPU shared out evenly."""
    t0 = time.perf_counter()
    raw = pd.concat([synthetic_table(500, 1024, seed=i, model=f"m{i}", params=10 ** (8 + i / 2)) for i in range(5)],
                    ignore_index=True)
    t_build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    samples = scaling.validate(raw)
    t_val, c_val = time.perf_counter() - t0, time.process_time() - c0
    del raw
    rss_before = _status_mib("VmRSS")
    _reset_peak_rss()
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    run = lambda: scaling.evaluate(samples, strategies=STRATS, n_jobs=n_jobs, extrapolate=()).curves  # noqa: E731
    curves = run()
    t_eval, c_eval, k_eval = time.perf_counter() - t0, time.process_time() - c0, _children_cpu() - k0
    peak = _status_mib("VmHWM")
    rss_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    free = c_eval + k_eval / max(n_jobs, 1)
    print(f"large: 5 models x 500 problems x 1024 solutions "
          f"({len(samples):,} rows), n_jobs={n_jobs}: evaluate {t_eval:.2f} s wall, CPU {c_eval:.2f} s here + "
          f"{k_eval:.2f} s in workers -> {free:.1f} s on {n_jobs} free core(s); {len(curves)} curve points; "
          f"validate {t_val:.2f} s wall, {c_val:.2f} s CPU (table build {t_build:.1f} s); RSS with the table loaded "
          f"{rss_before:.0f} MiB, peak during evaluate {peak:.0f} MiB (+{peak - rss_before:.0f})"
          + (f", largest worker {rss_kids:.0f} MiB (forked: counts pages shared with the parent)"
             if n_jobs > 1 else "") + f"; {_load()}")


def components(m, ks: list[int], repeat: int) -> None:
    """The majority and weighted-majority kernels, interleaved (the 0.1.0 figures: the module docstring)."""
    fns = {
        "majority (per k, as evaluate calls it)":
            lambda: {k: est.majority_at_k(m.codes, m.class_value, m.n, k) for k in ks},
        "majority (all k in one call)": lambda: est.majority_at_ks(m.codes, m.class_value, m.n, ks),
        "weighted MC, 100 draws":
            lambda: est.weighted_majority_mc(m.codes, m.reward, m.class_value, ks, n_draws=100),
        "weighted MC, 128 draws":
            lambda: est.weighted_majority_mc(m.codes, m.reward, m.class_value, ks, n_draws=128),
    }
    t, out = interleaved(fns, repeat)
    print("components (CPU s, minimum of interleaved runs):")
    for name in fns:
        print(f"  {name:44s} {t['cpu'][name]:7.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50 problems instead of 200, one repeat")
    ap.add_argument("--large", action="store_true", help="also time 5 models x 500 problems x 1024 solutions")
    ap.add_argument("--large-only", action="store_true")
    ap.add_argument("--jobs", type=int, default=None, help="(large case) worker processes; default 1 and 2")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs of each contender (default 3)")
    args = ap.parse_args()
    if args.large_only:
        if args.jobs:                       # one configuration, in this process
            large_case(args.jobs)
            return
        for j in (1, 2):                    # each configuration in a fresh process (clean peak RSS)
            subprocess.run([sys.executable, __file__, "--large-only", "--jobs", str(j)], check=True)
        return
    n_prob = 50 if args.quick else 200
    repeat = args.repeat or (1 if args.quick else 3)
    ks = [2 ** i for i in range(9)]
    samples = scaling.validate(synthetic_table(n_prob, 256))
    print(f"{n_prob} problems x 256 solutions, strategies {STRATS}, k = {ks}; {_load()}")

    # warm-up on a small table so one-time start-up costs (lazy imports, first-call caches) are not timed
    scaling.evaluate(scaling.validate(synthetic_table(5, 16, seed=99)), strategies=STRATS, n_boot=10, extrapolate=())
    fns = {
        "evaluate, 100 draws": lambda: scaling.evaluate(samples, strategies=STRATS, ks=ks, n_boot=0, n_draws=100, extrapolate=()).curves,
        "evaluate, 128 draws": lambda: scaling.evaluate(samples, strategies=STRATS, ks=ks, n_boot=0, extrapolate=()).curves,
        "evaluate, 128 draws, 1000 bootstrap CIs": lambda: scaling.evaluate(samples, strategies=STRATS, ks=ks, extrapolate=()).curves,
        "baseline loop, 100 subsets": lambda: baseline(samples, ks),
    }
    t, out = interleaved(fns, repeat)
    base = out["baseline loop, 100 subsets"]

    # precision: exact values for majority / best-of-n / pass@k; Monte-Carlo SE for weighted majority
    m = to_matrices(samples)[0]
    rows = []
    for name in ("evaluate, 100 draws", "evaluate, 128 draws"):
        ours = out[name]
        for k in ks:
            exact = {"majority": est.majority_at_k(m.codes, m.class_value, m.n, k),
                     "best_of_n": est.best_of_k(m.reward, m.correct, m.n, k),
                     "pass_at_k": est.pass_at_k(m.n, m.correct.sum(axis=1), k)}
            for s, v in exact.items():
                b = base.query("strategy == @s and k == @k").iloc[0]
                o = ours.query("strategy == @s and k == @k").iloc[0]
                rows.append({"run": name, "strategy": s, "k": k, "ours": abs(o.accuracy - v.mean()),
                             "loop": abs(b.accuracy - v.mean())})
            o = ours.query("strategy == 'weighted_majority' and k == @k").iloc[0]
            b = base.query("strategy == 'weighted_majority' and k == @k").iloc[0]
            se_base = np.sqrt(np.sum(b.per_problem * (1 - b.per_problem)) / 100) / len(m.n)
            rows.append({"run": name, "strategy": "weighted_majority (SE)", "k": k, "ours": o.mc_se,
                         "loop": se_base})
    prec = pd.DataFrame(rows)
    print("                                            wall s    CPU s   loop / this (wall, CPU)")
    tb_w, tb_c = t["wall"]["baseline loop, 100 subsets"], t["cpu"]["baseline loop, 100 subsets"]
    for name in fns:
        w, c = t["wall"][name], t["cpu"][name]
        ratio = "" if name.startswith("baseline") else f"   {tb_w / w:6.1f}x  {tb_c / c:6.1f}x"
        print(f"  {name:40s} {w:7.3f}  {c:7.3f}{ratio}")
    print("  largest error of a task-level accuracy (exact strategies: |estimate - exact|; weighted: MC SE):")
    table = prec.groupby(["run", "strategy"])[["ours", "loop"]].max()
    print("    " + table.to_string(float_format="%.2e").replace("\n", "\n    "))
    components(m, ks, repeat)
    print(_load())
    if args.large:
        subprocess.run([sys.executable, __file__, "--large-only"], check=True)


if __name__ == "__main__":
    main()

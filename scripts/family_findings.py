"""What the shipped model family's tables show, against the paper: the numbers quoted in data/README.md.

    python scripts/family_findings.py [--data data] [--fits fits] [--boot 1000]

Everything is computed from the shipped sample tables with the toolkit (``scaling.evaluate``), paired
over problems where two configurations are compared (a bootstrap over problems of the mean per-problem
difference, 95 % percentile interval):

1. voting vs greedy: majority@32 - greedy per size (paper, Table 4: +6..+11 points);
2. weighted vs majority voting at k = 16 and 32 (paper: +1..+5);
3. best-of-n rises with n: best-of-16 - best-of-1, and whether it ever falls from 4 to 64;
4. the verifier: within-question AUC of the reward on every size's shipped samples, the step-level
   metrics measured when it was built (``data/models/arith-verifier-*/training.json``) and, when the
   build's solution texts are at hand (``--work``, default ``collect-work/``), the first-error AUC per step
   index on every shipped sample (steps labelled exactly by ``collect.family.task.step_labels``);
5. the paper's headline, a smaller model with more samples winning at equal FLOPs
   (:func:`scaling.crossings.crossings` on the weighted-voting curves), and the Pareto frontier of the measured
   points (no oracle): which sizes are on it with k >= 4, and over what range of FLOPs each size is the
   best choice;
6. REBASE vs sampling at equal FLOPs on the search subset (sampling interpolated in log FLOPs between the
   two k that bracket the search's FLOPs, per problem);
7. the compute-optimal size law of the fitted laws (``fits/arith.json``, written by
   ``python -m scaling.fit data/``) beside the paper's N_opt ~ C^0.84.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

import scaling
from scaling.crossings import crossings
from scaling.frontier import pareto

ROOT = Path(__file__).resolve().parents[1]


def paired(diff: np.ndarray, n_boot: int, seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-problem differences and its bootstrap 95 % interval over problems."""
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def fmt(m: float, lo: float, hi: float) -> str:
    return f"{100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def at_k(ev, k: int, **match) -> pd.Series:
    v = ev.values(**match)
    return v.loc[k] if k in v.index else v.iloc[-1]


def voting_table(ev, models: list[str], n_boot: int) -> pd.DataFrame:
    rows = []
    for m in models:
        greedy = at_k(ev, 1, model=m, method="greedy", strategy="greedy")
        row = {"model": m, "greedy": greedy.mean()}
        for s in ("majority", "weighted_majority", "best_of_n"):
            for k in (1, 4, 16, 32, 64):
                row[f"{s}@{k}"] = at_k(ev, k, model=m, method="sample", strategy=s).mean()
        maj32 = at_k(ev, 32, model=m, method="sample", strategy="majority")
        row["maj32 - greedy"] = fmt(*paired((maj32 - greedy.reindex(maj32.index)).to_numpy(), n_boot))
        for k in (16, 32):
            w = at_k(ev, k, model=m, method="sample", strategy="weighted_majority")
            mj = at_k(ev, k, model=m, method="sample", strategy="majority")
            row[f"wv{k} - maj{k}"] = fmt(*paired((w - mj).to_numpy(), n_boot))
        b16, b1 = (at_k(ev, k, model=m, method="sample", strategy="best_of_n") for k in (16, 1))
        row["bon16 - bon1"] = fmt(*paired((b16 - b1).to_numpy(), n_boot))
        bon = ev.values(model=m, method="sample", strategy="best_of_n").mean(axis=1)
        seq = bon.loc[[k for k in bon.index if 4 <= k <= 64]].to_numpy()
        row["bon falls 4..64"] = bool((np.diff(seq) < 0).any())
        rows.append(row)
    return pd.DataFrame(rows)


def verifier_table(samples: pd.DataFrame, models: list[str], data: Path) -> tuple[pd.DataFrame, dict]:
    from collect.family.metrics import within_question_auc

    rows = []
    for m in models:
        d = samples[(samples.model == m) & (samples.method == "sample")]
        rows.append({"model": m, "within_question_auc": within_question_auc(
            d.reward.to_numpy(float), d.correct.to_numpy(bool), d.problem_id.astype(str).tolist()),
            "correct_rate": d.correct.mean()})
    info = {}
    for f in sorted((data / "models").glob("arith-verifier-*/training.json")):
        info = json.loads(f.read_text()).get("evaluation", {})
    return pd.DataFrame(rows), info


def step_table(data: Path, work: Path, models: list[str]) -> tuple[pd.DataFrame, dict] | None:
    """First-error AUC by step index of the shipped ``step_rewards``, per size and pooled over sizes, from
    the collection's solution texts (``<work>/arith/<model>/texts``); None when they are not there."""
    from collect.family.metrics import verifier_metrics
    from collect.family.task import split_steps, step_labels

    if not all((work / "arith" / m / "texts").is_dir() for m in models):
        return None
    rows, every_rec, every_score = [], [], []
    for m in models:
        texts = pd.concat([pd.read_json(f, lines=True) for f in sorted((work / "arith" / m / "texts").glob("*.jsonl"))])
        t = pd.read_parquet(data / "samples" / "arith" / f"{m}.parquet",
                            columns=["problem_id", "sample_id", "step_rewards", "correct"])
        t = t.merge(texts[["problem_id", "sample_id", "question", "text"]], on=["problem_id", "sample_id"],
                    how="left", validate="1:1")
        if t.text.isna().any():
            raise ValueError(f"{work / 'arith' / m / 'texts'}: no text for {int(t.text.isna().sum())} shipped samples")
        recs, scores, empty = [], [], 0
        for r in t.itertuples():
            steps = split_steps(r.text)
            if not steps and r.step_rewards is None:   # an empty solution (end of text first): no step to judge
                empty += 1
                continue
            if r.step_rewards is None or len(steps) != len(r.step_rewards):
                raise ValueError(f"{m} {r.problem_id} sample {r.sample_id}: {len(steps)} steps in the text, "
                                 f"{r.step_rewards if r.step_rewards is None else len(r.step_rewards)} step_rewards")
            recs.append({"question": r.question, "labels": step_labels(r.question, steps), "correct": bool(r.correct)})
            scores.append(np.asarray(r.step_rewards, float))
        ev = verifier_metrics(scores, recs)
        by = ev["first_error_auc_by_step"]
        rows.append({"model": m, "first_error_auc": ev["first_error_auc"], "min_over_steps": min(by.values()),
                     "worst_step": min(by, key=by.get), "first_errors": sum(ev["first_error_count_by_step"].values()),
                     "empty_solutions": empty})
        every_rec += recs
        every_score += scores
    return pd.DataFrame(rows), verifier_metrics(every_score, every_rec)


def frontier_table(ev, strategies: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Runs of consecutive frontier points of one model (the budgets it wins) among the measured points of
    ``strategies`` (default every strategy but the pass@k oracle, greedy included)."""
    cur = ev.curves
    keep = cur.strategy.isin(strategies) if strategies else cur.strategy != "pass_at_k"
    pts = cur[(cur.task == "arith") & keep]
    fr = pareto(pts).reset_index(drop=True)
    runs, start = [], 0
    for i in range(1, len(fr) + 1):   # consecutive frontier points of one model = the budgets it wins
        if i == len(fr) or fr.model[i] != fr.model[start]:
            end = fr.flops[i] if i < len(fr) else np.nan
            seg = fr.iloc[start:i]
            runs.append({"model": fr.model[start], "params": fr.params[start], "from_flops": fr.flops[start],
                         "to_flops": end, "span": end / fr.flops[start], "ks": list(seg.k),
                         "strategies": sorted(set(seg.strategy)), "best_accuracy": seg.accuracy.max()})
            start = i
    return pd.DataFrame(runs)


def search_table(ev, n_boot: int, task: str = "arith-sub100") -> pd.DataFrame:
    cur = ev.curves
    rows = []
    sub = cur[cur.task == task]
    for m in sorted(sub[sub.method == "rebase"].model.unique()):
        for s in ("weighted_majority", "best_of_n", "majority"):
            base = sub[(sub.model == m) & (sub.method == "sample") & (sub.strategy == s)].sort_values("flops")
            other = sub[(sub.model == m) & (sub.method == "rebase") & (sub.strategy == s)].sort_values("k")
            if base.empty or other.empty:
                continue
            vb = ev.values(task=task, model=m, method="sample", strategy=s)
            vo = ev.values(task=task, model=m, method="rebase", strategy=s)
            x = np.log10(base.flops.to_numpy(float))
            for _, r in other.iterrows():
                q = np.log10(r.flops)
                if not x[0] <= q <= x[-1]:
                    continue
                j = min(int(np.searchsorted(x, q, side="right")) - 1, len(x) - 2)
                t = (q - x[j]) / (x[j + 1] - x[j])
                kb0, kb1 = int(base.k.iloc[j]), int(base.k.iloc[j + 1])
                interp = (1 - t) * vb.loc[kb0] + t * vb.loc[kb1]
                diff = (vo.loc[int(r.k)] - interp.reindex(vo.columns)).to_numpy()
                rows.append({"model": m, "strategy": s, "budget": int(r.k), "flops": r.flops,
                             "rebase": r.accuracy, "sampling_at_equal_flops": float(interp.mean()),
                             "gain": fmt(*paired(diff, n_boot)), "gain_low": paired(diff, n_boot)[1]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT / "data"))
    ap.add_argument("--fits", default=str(ROOT / "fits"))
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--work", default=str(ROOT / "collect-work"),
                    help="the family build's work folder (solution texts for the per-step verifier AUCs)")
    args = ap.parse_args(argv)
    data = Path(args.data)
    pd.set_option("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 60)
    samples = scaling.read_samples(data / "samples" / "arith")
    models = list(samples.drop_duplicates("model").sort_values("params").model)
    ev = scaling.evaluate(samples, extrapolate=(), n_boot=200)
    print("## Voting, verification and best-of-n (accuracy; differences in points, 95 % CI over problems)\n")
    print(voting_table(ev, models, args.boot).round(3).to_string(index=False), "\n")
    vt, info = verifier_table(samples, models, data)
    print("## The verifier\n")
    print(vt.round(3).to_string(index=False))
    if info:
        p = info["pooled"]
        print(f"built-in evaluation ({p['n_solutions']} samples of {p['n_groups']} test problems, every policy): "
              f"first-error AUC {p['first_error_auc']:.3f}, by step index "
              f"{ {int(k): round(v, 3) for k, v in p['first_error_auc_by_step'].items()} }; step AUC "
              f"{p['step_auc']:.3f}; within-question AUC {p['within_question_auc']:.3f} (median over policies "
              f"{p['within_question_auc_median_over_policies']:.3f}); best of group {p['best_of_group_correct']:.3f} "
              f"vs random {p['solution_correct_rate']:.3f}\n")
    steps = step_table(data, Path(args.work), models)
    if steps is None:
        print(f"(no solution texts under {args.work}: per-step AUCs on every shipped sample skipped)\n")
    else:
        st, pooled = steps
        print("first-error AUC of the shipped step_rewards, every sample, per size:")
        print(st.round(4).to_string(index=False))
        print(f"pooled over sizes ({pooled['n_solutions']} samples): first-error AUC {pooled['first_error_auc']:.4f}; "
              "by step index (AUC, first errors): "
              f"{ {k: (round(v, 3), pooled['first_error_count_by_step'][k]) for k, v in pooled['first_error_auc_by_step'].items()} }\n")
    print("## The paper's headline: a smaller model with more samples at equal FLOPs (weighted voting, measured)\n")
    cur = ev.curves
    wv = cur[(cur.task == "arith") & (cur.method == "sample") & (cur.strategy == "weighted_majority")]
    cm = crossings(wv)
    print(cm.summary(), "\n(want >= 3 winning pairs over >= 3 smaller sizes, >= 25 % of budgets, >= 3 optimal sizes, "
          "Spearman >= 0.8)")
    print(cm.pairs.sort_values("gain", ascending=False).round(3).to_string(index=False), "\n")
    print("## Pareto frontier of the measured points (every strategy but pass@k, greedy included)\n")
    print(frontier_table(ev).round(3).to_string(index=False), "\n")
    print("## Pareto frontier of the weighted-voting points (the paper's Fig. 1)\n")
    print(frontier_table(ev, ("weighted_majority",)).round(3).to_string(index=False), "\n")
    sub = data / "samples" / "arith-sub100"
    if sub.exists():
        evs = scaling.evaluate(scaling.read_samples(sub), extrapolate=(), n_boot=200)
        print("## REBASE vs sampling at equal FLOPs (arith-sub100)\n")
        print(search_table(evs, args.boot).round(3).drop(columns="gain_low").to_string(index=False), "\n")
    law_file = Path(args.fits) / "arith.json"
    if law_file.exists():
        law = scaling.read_laws(law_file).size_law()
        if law:
            print("## Compute-optimal size law (fits/arith.json)\n")
            print(law.summary(),
                  "\npaper (Pythia, GSM8K, weighted voting): log10 C = 1.19 log10 N + 2.03, N_opt ~ C^0.84")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

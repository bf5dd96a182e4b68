"""Rebuild the bundled model family from seeds: task file, policies, verifier, sample tables.

Usage::

    python -m collect.family build [--out data/] [--device cpu|cuda] [--jobs 2] [--quick]
                                   [--only task|models|collect|prm] [--sizes a,b] [--samples 256]
                                   [--work collect-work/]
    python -m collect.family sizes

Stages (all deterministic in fixed seeds):

1. ``task``: ``<out>/tasks/arith.jsonl``, the test split, 50 problems per difficulty 1..10 (500 problems).
2. ``models``: ``<out>/models/arith-neox-*``, every size of :data:`collect.family.model.SIZES` trained to
   its plateau with the one recipe of :mod:`collect.family.train`, and the verifier
   ``<out>/models/arith-verifier-*`` (:mod:`collect.family.verifier`: a larger model of correct solutions,
   read as a likelihood verifier), evaluated on the policies' samples of test problems. Each folder holds
   bfloat16 safetensors, the tokenizer and a ``training.json`` (parameters, recipe, steps, validation
   curve, wall/CPU seconds, greedy test accuracy; the verifier's metrics).
3. ``collect``: ``<out>/samples/arith*/``, collected with the toolkit's own commands
   (:mod:`collect.family.collection`: ``collect sample`` 256 per problem + greedy, ``collect score`` with the
   verifier, ``collect search`` REBASE and MCTS at budgets 4..64 for two sizes); part files and solution
   texts in ``--work``, one consolidated Parquet file per table shipped.
4. ``prm`` (only when asked, ``--only prm``): the Math-Shepherd-style step-tag PRM of
   :mod:`collect.family.prm`, fine-tuned from a policy on the policies' own labelled samples; kept to
   compare the two verifier kinds, not used by the shipped tables.

``--jobs N`` runs independent pieces (models to train, policies to sample, searches) in N processes of one
torch thread each; on 2 cores ``--jobs 2`` halves the wall time. Measured cost: data/README.md. Bitwise
results depend on the torch version, the device and the thread count (floating-point reduction order); the
data, the initialisation, the order of training examples and the sampling seeds are fixed.

``--quick`` trains for a handful of steps only (a smoke test in seconds; not the shipped models).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from collect.family import collection
from collect.family import prm as prm_mod
from collect.family.model import SIZES, VERIFIER_SIZES, build_model, n_params, save_model
from collect.family.task import generate_problems, split_test, write_task
from collect.family.tokenizer import build_tokenizer
from collect.family.train import Recipe, generate, greedy_accuracy, train
from collect.family.verifier import choose_min_p, evaluate_verifier

# Pythia's setting: every size sees the same examples in the same order for the same number of steps (4000
# batches of 32, cosine from the peak rate to a tenth of it), at peak rate 3e-3 up to width 128 and 3e-3 x
# 128 / width beyond (widths 192 and 256 diverged at 3e-3). The previous family trained each size to its own
# plateau, which made size a capacity threshold (every size of depth 3 solved 97-99 % greedily) and no smaller
# size ever won at equal compute; scripts/family_sweep.py holds the pilot that chose this recipe.
RECIPE = Recipe(steps=4000, lr_width=128)
RECIPE_OF: dict[str, Recipe] = {}
VERIFIER = next(iter(VERIFIER_SIZES))
VERIFIER_RECIPE = Recipe(steps=5000, seed=4242, lr_width=128)   # a fixed cosine schedule, longer than the policies'
VERIFIER_EVAL_PROBLEMS = 100   # test problems (10 per level) whose policy samples measure the verifier
VERIFIER_EVAL_SAMPLES = 16     # samples per eval problem and policy (temperature 1)
VERIFIER_TUNE_PROBLEMS = 100   # fresh training problems whose policy samples choose the verifier's min_p
# The verifier's min_p: None chooses it by the grid on the policies' samples of fresh training problems
# (never test problems); a number pins it (the previous family pinned 0.1 so as not to re-score its tables
# when a new size moved the grid's argmax by 0.0003 AUC).
VERIFIER_MIN_P: float | None = None
PRM_BASE = "arith-neox-423k"
PRM_TRAIN_PROBLEMS = 4000      # fresh training problems for PRM data
PRM_SAMPLES = 2                # samples per problem per policy (temperature 1)
PRM_EVAL_PROBLEMS = 100
PRM_EVAL_SAMPLES = 4
PRM_RECIPE = prm_mod.PRMRecipe()


def _dump(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def _pool(jobs: int) -> ProcessPoolExecutor:
    """Worker processes of one torch thread each (spawned: no fork of a threaded parent)."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=torch.set_num_threads, initargs=(1,))


def train_one(name: str, out: Path, *, device: str, recipe: Recipe, progress: bool = True) -> dict:
    """Train one family member (a policy or the verifier) from its seed, save it, measure greedy accuracy
    on the test split, write its ``training.json``; returns that record."""
    tok = build_tokenizer()
    test = split_test()
    model = build_model(name, seed=0)
    log = train(model, tok, recipe, exclude={p.question for p in test}, device=device, progress=progress,
                desc=name)
    acc = greedy_accuracy(model, tok, test, device=device)
    folder = save_model(model, tok, out / "models" / name)
    size = {**SIZES, **VERIFIER_SIZES}[name]
    info = {"name": name, "params": n_params(model), "size": dict(zip(("d", "layers", "heads"), size, strict=True)),
            "recipe": asdict(recipe), "peak_lr": log["peak_lr"], "steps": log["steps"], "plateau_step": log["plateau_step"],
            "validation_loss_above_floor": log["val"], "validation_floor": log["floor"], "train_seconds": round(log["seconds"], 1),
            "train_cpu_seconds": round(log["cpu_seconds"], 1), "device": device, "threads": torch.get_num_threads(),
            "final_loss": float(np.mean(log["losses"][-50:])),
            "greedy_accuracy": acc["accuracy"], "greedy_by_difficulty": acc["by_difficulty"],
            "distinct_wrong_answers": acc["distinct_wrong_answers"]}
    _dump(folder / "training.json", info)
    print(f"{name}: {info['params']} params, {info['steps']} steps (plateau at {info['plateau_step']}), "
          f"{info['train_cpu_seconds']} CPU-s, loss {info['final_loss']:.4f}, greedy {acc['accuracy']:.3f}", flush=True)
    return info


def build_models(out: Path, *, device: str, recipe: Recipe, names: list[str], verifier: str | None,
                 verifier_recipe: Recipe, recipe_of: dict[str, Recipe] | None = None, jobs: int = 1,
                 progress: bool = True, n_eval: int = VERIFIER_EVAL_PROBLEMS,
                 n_eval_samples: int = VERIFIER_EVAL_SAMPLES) -> dict:
    """Train the policies ``names`` and the ``verifier`` (largest first, ``jobs`` at a time), then evaluate
    the verifier on the policies' samples.  ``recipe_of``: a different recipe for some policies."""
    plan = ([(verifier, verifier_recipe)] if verifier else []) + [(n, (recipe_of or {}).get(n, recipe))
                                                                   for n in reversed(names)]
    report: dict = {}
    for n, r in list(plan):   # a model already trained with the same recipe is kept (the stage resumes)
        done = out / "models" / n / "training.json"
        info = json.loads(done.read_text()) if done.exists() else {}
        if "recipe" in info and Recipe(**info["recipe"]).key() == r.key():
            report[n] = info
            plan.remove((n, r))
            print(f"{n}: already trained with this recipe, kept", flush=True)
    if jobs > 1:
        with _pool(jobs) as pool:
            futures = {n: pool.submit(train_one, n, out, device=device, recipe=r, progress=False) for n, r in plan}
            report |= {n: f.result() for n, f in futures.items()}
    else:
        report |= {n: train_one(n, out, device=device, recipe=r, progress=progress) for n, r in plan}
    if verifier:
        report[verifier]["evaluation"] = finish_verifier(out, verifier, names, device=device, n_eval=n_eval,
                                                         n_samples=n_eval_samples)
    return report


def sample_records(policies: list[str], out: Path, questions: list[str], n: int, seed: int,
                   device: str) -> list[dict]:
    """``n`` temperature-1 samples of every policy for every question, labelled step by step."""
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    records = []
    for i, name in enumerate(policies):
        model = AutoModelForCausalLM.from_pretrained(out / "models" / name, dtype=torch.float32)
        sols = generate(model, tok, questions, device=device, do_sample=True, temperature=1.0,
                        num_return_sequences=n, seed=seed + i)
        qs = [q for q, s in zip(questions, sols, strict=True) for _ in s]
        records += [dict(r, policy=name) for r in prm_mod.label_solutions(qs, [x for s in sols for x in s])]
    return records


def eval_questions(n: int) -> list[str]:
    """``n`` test questions, the same number from every level (every (500 / n)-th of the split)."""
    test = split_test()
    return [p.question for p in test[:: max(1, len(test) // n)]][:n]


def fresh_questions(n: int, seed: int) -> list[str]:
    """``n`` training-distribution questions (levels cycling), none of them in the test split."""
    exclude = {p.question for p in split_test()}
    return [p.question for p in generate_problems(3 * n, seed=seed) if p.question not in exclude][:n]


def finish_verifier(out: Path, name: str, policies: list[str], *, device: str,
                    n_eval: int = VERIFIER_EVAL_PROBLEMS, n_samples: int = VERIFIER_EVAL_SAMPLES,
                    min_p: float | None = VERIFIER_MIN_P) -> dict:
    """Make ``<out>/models/<name>`` a likelihood verifier: measure every ``min_p`` of the grid on the
    policies' samples of fresh training problems, take ``min_p`` (the grid's best when None), write
    ``reward_config.json``, then measure it on their samples of test problems; the grid, the choice and
    the metrics go into its ``training.json``."""
    from collect.rewards import LikelihoodVerifier, write_reward_config

    folder = out / "models" / name
    t0 = time.process_time()
    tune = sample_records(policies, out, fresh_questions(VERIFIER_TUNE_PROBLEMS if n_eval >= 50 else n_eval, 555),
                          n_samples // 2 or 1, 400, device)
    write_reward_config(folder)
    best, grid = choose_min_p(LikelihoodVerifier(str(folder), device=device, batch_size=256), tune)
    min_p = best if min_p is None else min_p
    write_reward_config(folder, min_p=min_p)
    records = sample_records(policies, out, eval_questions(n_eval), n_samples, 300, device)
    ev = evaluate_verifier(LikelihoodVerifier(str(folder), device=device, batch_size=256), records)
    ev["min_p"], ev["min_p_within_question_auc_on_training_problems"] = min_p, grid
    ev["min_p_best_on_training_problems"], ev["policies"] = best, list(policies)
    ev["cpu_seconds"] = round(time.process_time() - t0, 1)
    info = json.loads((folder / "training.json").read_text())
    info["evaluation"] = ev
    _dump(folder / "training.json", info)
    p = ev["pooled"]
    by_step = list(p["first_error_auc_by_step"].values()) or [float("nan")]
    print(f"{name}: min_p {min_p} (grid's best {best}: {grid}); first-error AUC {p['first_error_auc']:.3f} (by step index "
          f"{min(by_step):.3f}..{max(by_step):.3f}), "
          f"within-question AUC {p['within_question_auc']:.3f} (median over policies "
          f"{p['within_question_auc_median_over_policies']:.3f}), best of group {p['best_of_group_correct']:.3f} "
          f"vs random {p['solution_correct_rate']:.3f}", flush=True)
    return ev


def build_prm(out: Path, *, device: str, recipe: prm_mod.PRMRecipe, n_train: int, n_samples: int,
              n_eval: int, base: str, policies: list[str]) -> dict:
    """The step-tag PRM (stage 4 of the module docstring)."""
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    missing = [p for p in policies if not (out / "models" / p / "config.json").exists()]
    if missing:
        raise FileNotFoundError(f"PRM data needs the trained policies {missing} under {out / 'models'}")
    name = "arith-prm-" + base.split("-")[-1]
    train_qs = fresh_questions(n_train, 777)
    t0, c0 = time.time(), time.process_time()
    train_recs = sample_records(policies, out, train_qs, n_samples, 100, device)
    eval_recs = sample_records(policies, out, eval_questions(n_eval), PRM_EVAL_SAMPLES, 200, device)
    sample_s, sample_cpu = time.time() - t0, time.process_time() - c0
    model = AutoModelForCausalLM.from_pretrained(out / "models" / base, dtype=torch.float32)
    log = prm_mod.train_prm(model, tok, train_recs, recipe, device=device)
    ev = prm_mod.evaluate_prm(model, tok, eval_recs, device=device)
    folder = save_model(model, tok, out / "models" / name)
    prm_mod.save_reward_config(folder)
    info = {"name": name, "params": n_params(model), "initialised_from": base, "recipe": asdict(recipe),
            "policies_sampled": policies, "train_solutions": len(train_recs),
            "sampling_cpu_seconds": round(sample_cpu, 1), "sampling_seconds": round(sample_s, 1),
            "train_seconds": round(log["seconds"], 1), "train_cpu_seconds": round(log["cpu_seconds"], 1),
            "final_loss": float(np.mean(log["losses"][-50:])), "eval_test_samples": ev, "device": device}
    _dump(folder / "training.json", info)
    print(f"{name}: first-error AUC {ev['first_error_auc']:.3f}, within-question AUC "
          f"{ev['within_question_auc']:.3f}, best of group {ev['best_of_group_correct']:.3f}", flush=True)
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m collect.family", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="rebuild task file, policies, verifier and sample tables")
    b.add_argument("--out", default="data", help="output root (default data/)")
    b.add_argument("--device", default="cpu", help="cpu or cuda")
    b.add_argument("--jobs", type=int, default=2, help="worker processes of one thread each (default 2)")
    b.add_argument("--quick", action="store_true", help="a few steps only: smoke test, not the shipped models")
    b.add_argument("--only", choices=["task", "models", "collect", "prm"], default=None)
    b.add_argument("--sizes", default=None, help="comma-separated subset of policy sizes (default all)")
    b.add_argument("--samples", type=int, default=None,
                   help=f"samples per test problem and policy (default {collection.SAMPLES})")
    b.add_argument("--work", default="collect-work",
                   help="folder for collection part files, solution texts and trees (default collect-work/)")
    sub.add_parser("sizes", help="print the family's sizes and parameter counts")
    args = ap.parse_args(argv)
    if args.cmd == "sizes":
        for name, size in {**SIZES, **VERIFIER_SIZES}.items():
            print(name, size, n_params(build_model(name)))
        return 0
    torch.set_num_threads(1)
    out = Path(args.out)
    names = args.sizes.split(",") if args.sizes else list(SIZES)
    recipe, vrecipe, prm_recipe, recipe_of = RECIPE, VERIFIER_RECIPE, PRM_RECIPE, RECIPE_OF
    n_train, n_samples, n_eval = PRM_TRAIN_PROBLEMS, PRM_SAMPLES, PRM_EVAL_PROBLEMS
    verifier_eval = {}
    if args.quick:
        verifier_eval = {"n_eval": 10, "n_eval_samples": 2}
        recipe, recipe_of = replace(RECIPE, steps=6, batch_size=8, warmup=2), {}
        vrecipe = replace(VERIFIER_RECIPE, steps=6, batch_size=8, warmup=2)
        prm_recipe = prm_mod.PRMRecipe(steps=4, batch_size=8, warmup=1)
        n_train, n_samples, n_eval = 8, 1, 10
    t0, c0 = time.time(), time.process_time()
    if args.only in (None, "task"):
        write_task(split_test(), out / "tasks" / "arith.jsonl")
    if args.only in (None, "models"):
        build_models(out, device=args.device, recipe=recipe, names=names, verifier=VERIFIER,
                     verifier_recipe=vrecipe, recipe_of=recipe_of, jobs=args.jobs, **verifier_eval)
    if args.only in (None, "collect"):
        quick = {"limit": 10, "budgets": [4], "search_policies": names[-1:]} if args.quick else {}
        n = args.samples or (4 if args.quick else collection.SAMPLES)
        rep = collection.collect_family(out, Path(args.work), policies=names, verifier=VERIFIER,
                                        device=args.device, jobs=args.jobs, n=n, **quick)
        print(f"collection done in {rep['seconds']:.0f} s: {len(rep['shipped'])} tables, "
              f"{collection.size_mb(rep['shipped']):.1f} MB under {out / 'samples'}", flush=True)
    if args.only == "prm":
        base = PRM_BASE if PRM_BASE in names else names[-1]
        build_prm(out, device=args.device, recipe=prm_recipe, n_train=n_train, n_samples=n_samples,
                  n_eval=n_eval, base=base, policies=names)
    print(f"build done: {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU of this process",
          flush=True)
    return 0

"""Rebuild the bundled model family from seeds: task file, policy models, process reward model.

Usage::

    python -m collect.family build [--out data/] [--device cpu|cuda] [--quick] [--only task|policies|prm|collect]
                                   [--sizes a,b] [--threads 2] [--steps N] [--samples 256] [--work collect-work/]
    python -m collect.family sizes

Steps (all deterministic in fixed seeds):

1. ``<out>/tasks/arith.jsonl``: the test split, 100 problems per difficulty 1..5 (500 problems).
2. ``<out>/models/arith-neox-*``: every size of :data:`collect.family.model.SIZES` trained with the one
   recipe of :mod:`collect.family.train`, saved in bfloat16 safetensors with its tokenizer and a
   ``training.json`` (parameters, recipe, wall/CPU seconds, final loss, greedy test accuracy).
3. ``<out>/models/arith-prm-*``: the process reward model (:mod:`collect.family.prm`), fine-tuned from a
   policy on the policies' own temperature-1 samples of fresh training problems, evaluated on their
   samples of the test problems; ``reward_config.json`` and ``training.json`` beside the weights.
4. ``<out>/samples/arith*/``: the sample tables, collected with the toolkit's own commands
   (:mod:`collect.family.collection`: ``collect sample`` 256 per problem + greedy, ``collect score`` with the
   PRM, ``collect search`` REBASE and MCTS at budgets 4..64 for two sizes); part files and solution texts
   in ``--work``, one consolidated Parquet file per table shipped.

Measured cost (CPU, 2 cores shared between two jobs, one torch thread per job): policies 1,148 CPU-s
(20k: 62 s, 65k: 125 s, 160k: 172 s, 460k: 322 s, 1m: 468 s); PRM 1,317 s (sampling 80,000 training
solutions 608 s, 2,500 fine-tuning steps 688 s); collection stages measured in data/README.md; an
estimated 9,300 CPU-s in all. ``--device cuda`` runs it on a GPU (not timed yet). Bitwise results depend on the
torch version, the device and the thread count (floating-point reduction order); the data, the
initialisation, the order of training examples and the sampling seeds are fixed.

``--quick`` trains for a handful of steps only (a smoke test in seconds; not the shipped models).
``--steps`` changes the number of policy training steps for every size (e.g. longer on a GPU).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from collect.family import collection
from collect.family import prm as prm_mod
from collect.family.model import SIZES, build_model, n_params, save_model
from collect.family.task import generate_problems, split_test, write_task
from collect.family.tokenizer import build_tokenizer
from collect.family.train import Recipe, generate, greedy_accuracy, train

RECIPE = Recipe()
PRM_BASE = "arith-neox-460k"
PRM_NAME = "arith-prm-460k"
# the PRM learns from the samples of every policy of the family (its base included)
PRM_POLICIES = list(SIZES)
PRM_TRAIN_PROBLEMS = 8000  # fresh training problems for PRM data (80,000 labelled solutions)
PRM_SAMPLES = 2            # samples per problem per policy (temperature 1)
PRM_EVAL_PROBLEMS = 100    # test problems whose policy samples measure the PRM
PRM_EVAL_SAMPLES = 4       # samples per eval problem per policy
PRM_RECIPE = prm_mod.PRMRecipe()


def _dump(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def build_policies(out: Path, *, device: str, recipe: Recipe, names: list[str], progress: bool = True) -> dict:
    tok = build_tokenizer()
    test = split_test()
    exclude = {p.question for p in test}
    report = {}
    for name in names:
        model = build_model(name, seed=0)
        log = train(model, tok, recipe, exclude=exclude, device=device, progress=progress, desc=name)
        acc = greedy_accuracy(model, tok, test, device=device)
        folder = save_model(model, tok, out / "models" / name)
        info = {"name": name, "params": n_params(model), "size": dict(zip(("d", "layers", "heads"), SIZES[name], strict=True)),
                "recipe": recipe.__dict__, "train_seconds": round(log["seconds"], 1),
                "train_cpu_seconds": round(log["cpu_seconds"], 1), "device": device,
                "final_loss": float(np.mean(log["losses"][-50:])),
                "greedy_accuracy": acc["accuracy"], "greedy_by_difficulty": acc["by_difficulty"],
                "distinct_wrong_answers": acc["distinct_wrong_answers"]}
        _dump(folder / "training.json", info)
        report[name] = info
        print(f"{name}: {info['params']} params, {info['train_seconds']} s, loss {info['final_loss']:.4f}, "
              f"greedy {acc['accuracy']:.3f} {acc['by_difficulty']}", flush=True)
    return report


def _sample_records(policies: list[str], out: Path, questions: list[str], n: int, seed: int, device: str):
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


def build_prm(out: Path, *, device: str, recipe: prm_mod.PRMRecipe, n_train: int, n_samples: int,
              n_eval: int, base: str = PRM_BASE, name: str = PRM_NAME, policies: list[str] | None = None) -> dict:
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    policies = list(PRM_POLICIES if policies is None else policies)
    missing = [p for p in policies if not (out / "models" / p / "config.json").exists()]
    if missing:
        raise FileNotFoundError(f"PRM data needs the trained policies {missing} under {out / 'models'}")
    test = split_test()
    exclude = {p.question for p in test}
    train_qs = [p.question for p in generate_problems(3 * n_train, seed=777) if p.question not in exclude][:n_train]
    t0, c0 = time.time(), time.process_time()
    train_recs = _sample_records(policies, out, train_qs, n_samples, 100, device)
    eval_recs = _sample_records(policies, out, [p.question for p in test[:: max(1, len(test) // n_eval)]],
                                PRM_EVAL_SAMPLES, 200, device)
    sample_s, sample_cpu = time.time() - t0, time.process_time() - c0
    model = AutoModelForCausalLM.from_pretrained(out / "models" / base, dtype=torch.float32)
    before = prm_mod.evaluate_prm(model, tok, eval_recs, device=device)
    log = prm_mod.train_prm(model, tok, train_recs, recipe, device=device)
    ev = prm_mod.evaluate_prm(model, tok, eval_recs, device=device)
    ev_train = prm_mod.evaluate_prm(model, tok, train_recs[:: max(1, len(train_recs) // 500)], device=device)
    folder = save_model(model, tok, out / "models" / name)
    prm_mod.save_reward_config(folder)
    info = {"name": name, "params": n_params(model), "initialised_from": base, "recipe": recipe.__dict__,
            "policies_sampled": policies, "train_solutions": len(train_recs),
            "train_steps_labelled": int(sum(len(r["labels"]) for r in train_recs)),
            "train_good_step_rate": float(np.mean([x for r in train_recs for x in r["labels"]])),
            "sampling_seconds": round(sample_s, 1), "sampling_cpu_seconds": round(sample_cpu, 1),
            "train_seconds": round(log["seconds"], 1), "train_cpu_seconds": round(log["cpu_seconds"], 1),
            "final_loss": float(np.mean(log["losses"][-50:])), "eval_test_samples": ev,
            "eval_train_samples": ev_train, "eval_before_training": before, "device": device}
    _dump(folder / "training.json", info)
    print(f"{name}: step AUC {ev['step_auc']:.3f} (first-error steps {ev['first_error_auc']:.3f}), accuracy "
          f"{ev['step_accuracy']:.3f} (balanced {ev['step_balanced_accuracy']:.3f}, good rate {ev['step_good_rate']:.3f}); "
          f"solution AUC {ev['solution_auc']:.3f} (within a question {ev['within_question_auc']:.3f}), accuracy "
          f"{ev['solution_accuracy']:.3f} (balanced {ev['solution_balanced_accuracy']:.3f}, correct rate "
          f"{ev['solution_correct_rate']:.3f}); PRM-best of each question's samples correct "
          f"{ev['best_of_group_correct']:.3f}", flush=True)
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m collect.family", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="rebuild task file, policies and PRM")
    b.add_argument("--out", default="data", help="output root (default data/)")
    b.add_argument("--device", default="cpu", help="cpu or cuda")
    b.add_argument("--quick", action="store_true", help="a few steps only: smoke test, not the shipped models")
    b.add_argument("--only", choices=["task", "policies", "prm", "collect"], default=None)
    b.add_argument("--sizes", default=None, help="comma-separated subset of sizes (default all)")
    b.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    b.add_argument("--steps", type=int, default=None,
                   help=f"policy training steps for every size (default {Recipe().steps}; more on a GPU)")
    b.add_argument("--prm-steps", type=int, default=None,
                   help=f"PRM fine-tuning steps (default {prm_mod.PRMRecipe().steps})")
    b.add_argument("--samples", type=int, default=None,
                   help=f"samples per test problem and policy (default {collection.SAMPLES})")
    b.add_argument("--work", default="collect-work",
                   help="folder for collection part files, solution texts and trees (default collect-work/)")
    sub.add_parser("sizes", help="print the family's sizes and parameter counts")
    args = ap.parse_args(argv)
    if args.cmd == "sizes":
        for name in SIZES:
            print(name, SIZES[name], n_params(build_model(name)))
        return 0
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    names = args.sizes.split(",") if args.sizes else list(SIZES)
    recipe, prm_recipe = RECIPE, PRM_RECIPE
    n_train, n_samples, n_eval = PRM_TRAIN_PROBLEMS, PRM_SAMPLES, PRM_EVAL_PROBLEMS
    if args.steps:
        recipe = Recipe(steps=args.steps)
    if args.prm_steps:
        prm_recipe = prm_mod.PRMRecipe(steps=args.prm_steps)
    if args.quick:
        recipe = Recipe(steps=6, batch_size=8, warmup=2)
        prm_recipe = prm_mod.PRMRecipe(steps=4, batch_size=8, warmup=1)
        n_train, n_samples, n_eval = 8, 1, 10
    t0, c0 = time.time(), time.process_time()
    if args.only in (None, "task"):
        write_task(split_test(), out / "tasks" / "arith.jsonl")
    if args.only in (None, "policies"):
        build_policies(out, device=args.device, recipe=recipe, names=names)
    if PRM_BASE in names:
        base, name, policies = PRM_BASE, PRM_NAME, PRM_POLICIES
    else:  # a subset of sizes (e.g. a quick smoke test): PRM from the largest, on all of them
        base, name, policies = names[-1], f"arith-prm-{names[-1].split('-')[-1]}", names
    if args.only in (None, "prm"):
        build_prm(out, device=args.device, recipe=prm_recipe, n_train=n_train, n_samples=n_samples,
                  n_eval=n_eval, base=base, name=name, policies=policies)
    if args.only in (None, "collect"):
        quick = {"limit": 10, "budgets": [4], "search_policies": names[-1:]} if args.quick else {}
        n = args.samples or (4 if args.quick else collection.SAMPLES)
        rep = collection.collect_family(out, Path(args.work), policies=names, prm=name, device=args.device,
                                        threads=args.threads, n=n, **quick)
        print(f"collection done in {rep['seconds']:.0f} s: {len(rep['shipped'])} tables, "
              f"{collection.size_mb(rep['shipped']):.1f} MB under {out / 'samples'}", flush=True)
    print(f"build done: {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU", flush=True)
    return 0

"""Process reward model (PRM) of the family: automatic step labels, data, training, evaluation.

Data (Math-Shepherd spirit, exact oracle instead of rollouts): the policies sample solutions to training
problems at temperature 1; every step gets the label of :func:`collect.family.task.step_labels` (good when
its arithmetic is right and the running value is still the true one, i.e. the answer is still reachable).

Input format (what :func:`prm_text` builds and what a scorer must feed): the policy prompt, then the steps,
each followed by ``" ки"``, joined by the step delimiter::

    Evaluate left to right: 2+3*4
    Step 1: 2+3=5 ки

    Step 2: 5*4=21 ки

    The answer is 21 ки

The score after step k is P(good) = softmax over the logits of {"+", "-"} at the k-th "ки" position. The
training loss is the two-way cross-entropy of the label there and, with ``PRMRecipe.dense`` (default), also
at every digit of each step's result (:func:`collect.family.task.digit_labels`: is the solution still
consistent up to this digit), which gives the model a target at the place where a wrong digit appears. The
PRM is initialised from a trained policy of the family and saved with ``reward_config.json``.

What it learns (measured, see ``training.json`` beside the shipped weights): the position of a step and
whether an earlier step already went wrong, not whether this step's arithmetic is right. Over the steps
whose earlier steps are all good (``first_error_auc``) its AUC stays at 0.45-0.57 for every recipe tried
(300-2,500 steps, 6,400-80,000 solutions, sparse or dense targets, two extra layers on top of the policy),
while the same loop learns a content label such as "the step adds" to AUC 1.0 in 300 steps. Checking a
multi-digit result in one forward pass is beyond these 0.2-0.7M-parameter models, so the scores rank
solutions of one question barely better than chance.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from collect.family.metrics import auc, verifier_metrics
from collect.family.task import digit_labels, split_steps, step_labels
from collect.family.tokenizer import STEP_TAG
from collect.rewards import reward_text

REWARD_CONFIG = {"kind": "prm", "step_tag": STEP_TAG, "good_token": "+", "bad_token": "-"}


def prm_text(question: str, steps: list[str]) -> str:
    """The PRM's input text for a (partial) solution given as its steps; this is
    :func:`collect.rewards.reward_text` (steps stripped, literal tags removed), so training and scoring agree."""
    return reward_text(question, steps, STEP_TAG, "prm")


def label_solutions(questions: list[str], solutions: list[str]) -> list[dict]:
    """One record per solution: question, steps, step labels and solution correctness (all steps good)."""
    out = []
    for q, s in zip(questions, solutions, strict=True):
        steps = split_steps(s)
        if not steps:
            continue
        labels = step_labels(q, steps)
        out.append({"question": q, "steps": steps, "labels": labels,
                    "correct": bool(steps[-1].startswith("The answer is") and labels[-1])})
    return out


def _ids(tok):
    ids = [tok.convert_tokens_to_ids(t) for t in (STEP_TAG, "+", "-")]
    if tok.unk_token_id in ids:
        raise ValueError(f"tokenizer lacks one of {STEP_TAG!r}, '+', '-'")
    return ids


def _digit_targets(offsets: list[tuple[int, int]], text: str, record: dict) -> dict[int, int]:
    """Token position -> 0/1 dense target at the result digits of every step (:func:`digit_labels`);
    ``offsets`` is the tokenizer's character span of every token of ``text``."""
    by_char = {a: i for i, (a, b) in enumerate(offsets) if b == a + 1}
    out, pos = {}, 0
    for step, marks in zip(record["steps"], digit_labels(record["question"], record["steps"]), strict=True):
        clean = step.replace(STEP_TAG, "").strip()  # as reward_text writes it (steps with a tag get no marks)
        start = text.find(clean, pos)
        if start < 0:
            raise ValueError(f"step {step!r} not found in the PRM text")
        pos = start + len(clean)
        for off, good in marks:
            if start + off in by_char:
                out[by_char[start + off]] = int(good)
    return out


def encode_prm_batch(tok, records: list[dict], device: str = "cpu", dense: bool = False):
    """Right-padded ids, mask, and per-token targets: 1 good / 0 bad at tag positions, -1 elsewhere; with
    ``dense`` also at every result digit (whether the solution is still consistent up to that digit)."""
    tag = _ids(tok)[0]
    texts = [prm_text(r["question"], r["steps"]) for r in records]
    encs = [tok(t, add_special_tokens=False, return_offsets_mapping=dense) for t in texts]
    rows = [e["input_ids"] for e in encs]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    target = torch.full_like(ids, -1)
    for i, (row, rec) in enumerate(zip(rows, records, strict=True)):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        pos = [j for j, t in enumerate(row) if t == tag]
        if len(pos) != len(rec["labels"]):
            raise ValueError(f"record {i}: {len(pos)} step tags for {len(rec['labels'])} labels")
        if dense:
            for j, y in _digit_targets(encs[i]["offset_mapping"], texts[i], rec).items():
                target[i, j] = y
        target[i, pos] = torch.tensor([int(x) for x in rec["labels"]])
    return ids.to(device), mask.to(device), target.to(device)


def step_logits(model, tok, ids, mask):
    """(batch, seq) log P(good) - log P(bad) restricted to {+, -} at every position."""
    _, good, bad = _ids(tok)
    logits = model(input_ids=ids, attention_mask=mask).logits
    return logits[..., good] - logits[..., bad]


@dataclass
class PRMRecipe:
    steps: int = 2500
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.1
    seed: int = 4321
    dense: bool = True     # also supervise every result digit (see encode_prm_batch)


def train_prm(model, tok, records: list[dict], recipe: PRMRecipe, *, device: str = "cpu",
              progress: bool = True) -> dict:
    """Fine-tune ``model`` (a family policy) as a PRM on labelled ``records``; cosine LR to lr/10."""
    from collect.family.train import Recipe, lr_at

    sched = Recipe(steps=recipe.steps, lr=recipe.lr, warmup=recipe.warmup)
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, 0.95),
                            weight_decay=recipe.weight_decay)
    order = np.argsort([len(r["steps"]) for r in records], kind="stable")  # length-bucketed batches
    buckets = [order[i : i + recipe.batch_size] for i in range(0, len(order), recipe.batch_size)]
    losses = []
    t0, c0 = time.time(), time.process_time()
    use_amp = device.startswith("cuda")
    for step in tqdm(range(recipe.steps), desc="prm", disable=not progress, mininterval=5):
        b = buckets[int(rng.integers(len(buckets)))]
        ids, mask, target = encode_prm_batch(tok, [records[i] for i in b], device, dense=recipe.dense)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, sched)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            z = step_logits(model, tok, ids, mask).float()
        sel = target >= 0
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z[sel], target[sel].float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return {"losses": losses, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}


@torch.no_grad()
def score_records(model, tok, records: list[dict], *, device: str = "cpu", batch_size: int = 128):
    """P(good) after every step of every record (list of arrays)."""
    model.to(device).eval()
    out = []
    for i in range(0, len(records), batch_size):
        chunk = records[i : i + batch_size]
        ids, mask, target = encode_prm_batch(tok, chunk, device)
        p = torch.sigmoid(step_logits(model, tok, ids, mask).float())
        for j in range(len(chunk)):
            out.append(p[j][target[j] >= 0].cpu().numpy())
    return out


def evaluate_prm(model, tok, records: list[dict], *, device: str = "cpu") -> dict:
    """:func:`collect.family.metrics.verifier_metrics` of the PRM's scores on ``records``, plus
    ``solution_auc_min`` (the minimum step score as the solution's score)."""
    scores = score_records(model, tok, records, device=device)
    out = verifier_metrics(scores, records)
    out["solution_auc_min"] = auc([s.min() for s in scores], [r["correct"] for r in records])
    return out


def save_reward_config(folder: str | Path) -> Path:
    path = Path(folder) / "reward_config.json"
    path.write_text(json.dumps(REWARD_CONFIG, ensure_ascii=False, indent=1) + "\n")
    return path

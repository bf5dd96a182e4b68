"""One training recipe for every size of the family (nanoGPT style: plain loop, no Trainer).

Recipe (identical for all sizes, so sizes differ only in parameters): the same deterministic stream of
``steps * batch_size`` training problems (test questions excluded); sequence = prompt + reference solution
+ end-of-text, loss on the solution tokens only; AdamW (betas 0.9/0.95, weight decay 0.1), peak learning
rate ``lr`` with linear warm-up over ``warmup`` steps then cosine decay to ``lr/10``; gradient clipping 1.0;
fp32 on CPU, bf16 autocast on CUDA. Greedy accuracy on the test split is measured with ``greedy_accuracy``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from collect.family.task import ArithProblem, extract_answer, prompt, train_batches


@dataclass
class Recipe:
    steps: int = 1500
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.1
    min_lr_ratio: float = 0.1
    seed: int = 1234


def encode_batch(tok, problems: list[ArithProblem], device: str = "cpu") -> dict[str, torch.Tensor]:
    """Right-padded ids, attention mask and labels (-100 on prompt and padding) of prompt + solution + EOS."""
    prompts = tok([prompt(p.question) for p in problems], add_special_tokens=False)["input_ids"]
    sols = tok([p.solution() for p in problems], add_special_tokens=False)["input_ids"]
    rows = [pr + so + [tok.eos_token_id] for pr, so in zip(prompts, sols, strict=True)]
    labs = [[-100] * len(pr) + so + [tok.eos_token_id] for pr, so in zip(prompts, sols, strict=True)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, la) in enumerate(zip(rows, labs, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        labels[i, : len(la)] = torch.tensor(la)
        mask[i, : len(r)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def lr_at(step: int, r: Recipe) -> float:
    if step < r.warmup:
        return r.lr * (step + 1) / r.warmup
    t = (step - r.warmup) / max(1, r.steps - r.warmup)
    return r.lr * (r.min_lr_ratio + (1 - r.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def train(model, tok, recipe: Recipe, *, exclude: set[str], device: str = "cpu", progress: bool = True,
          desc: str = "train") -> dict:
    """Train ``model`` in place with ``recipe``; returns {"losses": [...], "seconds": wall, "cpu_seconds": ...}."""
    torch.manual_seed(recipe.seed)
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=recipe.lr, betas=(0.9, 0.95))
    stream = train_batches(recipe.seed, recipe.batch_size, exclude)
    losses = []
    t0, c0 = time.time(), time.process_time()
    use_amp = device.startswith("cuda")
    bar = tqdm(range(recipe.steps), desc=desc, disable=not progress, mininterval=5)
    for step in bar:
        batch = encode_batch(tok, next(stream), device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, recipe)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    model.eval()
    return {"losses": losses, "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}


@torch.no_grad()
def generate(model, tok, questions: list[str], *, device: str = "cpu", batch_size: int = 256,
             max_new_tokens: int = 96, do_sample: bool = False, temperature: float = 1.0,
             num_return_sequences: int = 1, seed: int = 0) -> list[list[str]]:
    """Solutions (text after the prompt, EOS removed) for each question; ``num_return_sequences`` each."""
    model.to(device).eval()
    torch.manual_seed(seed)
    out: list[list[str]] = []
    for i in range(0, len(questions), batch_size):
        chunk = [prompt(q) for q in questions[i : i + batch_size]]
        enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=do_sample,
                             temperature=temperature if do_sample else None, top_p=None, top_k=0 if do_sample else None,
                             num_return_sequences=num_return_sequences, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        texts = tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for j in range(len(chunk)):
            out.append(texts[j * num_return_sequences : (j + 1) * num_return_sequences])
    return out


def greedy_accuracy(model, tok, problems: list[ArithProblem], *, device: str = "cpu") -> dict:
    """Greedy accuracy overall and per difficulty, plus the number of distinct wrong answers."""
    sols = [s[0] for s in generate(model, tok, [p.question for p in problems], device=device)]
    correct = np.array([extract_answer(s) == str(p.answer) for s, p in zip(sols, problems, strict=True)])
    levels = np.array([p.difficulty for p in problems])
    per = {int(lv): float(correct[levels == lv].mean()) for lv in np.unique(levels)}
    wrong = {extract_answer(s) for s, c in zip(sols, correct, strict=True) if not c}
    return {"accuracy": float(correct.mean()), "by_difficulty": per, "distinct_wrong_answers": len(wrong),
            "solutions": sols}

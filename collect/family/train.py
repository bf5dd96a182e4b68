"""One training recipe for every size of the family (nanoGPT style: plain loop, no Trainer).

Recipe (identical for all sizes, so sizes differ only in parameters): the same deterministic stream of
training problems (test questions excluded), each with a uniformly random solution path; sequence = prompt
+ solution + end-of-text, loss on the solution tokens only; AdamW (betas 0.9/0.95, weight decay 0.1),
gradient clipping 1.0, fp32 on CPU, bf16 autocast on CUDA.

Peak learning rate: ``lr``, or with ``lr_width`` set, ``lr * min(1, lr_width / d)`` for a model of width ``d``:
up to ``lr_width`` every size takes ``lr``, wider ones take proportionally smaller steps (Adam's learning
rate falls as 1/width in maximal-update parametrisation; Pythia's rate, too, falls with size). Measured:
widths 192 and 256 diverged at 3e-3 and trained at 3e-3 x 128 / width.

Schedule: train to the plateau (warm-up, stable, decay). Linear warm-up over ``warmup`` steps to the
peak learning rate ``lr``, then constant; every ``eval_every`` steps the loss on a fixed validation set
(``val_problems`` fresh problems, one random path each) is measured, less its entropy floor (the loss a
perfect model still pays for not knowing which path the example took, :func:`collect.family.task.path_nll`;
0.12 nats per token), and training is on its plateau when the best of this excess loss has not improved
by more than ``plateau_tol`` (relative) over the last ``patience`` steps, or ``max_steps`` is reached
(never before ``min_steps``). It then cools down: the
learning rate falls linearly to ``lr * min_lr_ratio`` over ``cooldown`` x (steps so far) more steps. So
small models, which learn slowly, train for many cheap steps and large ones stop early; every size ends
at its own plateau. ``steps`` > 0 instead fixes the run to ``steps`` steps with a cosine schedule (the
verifier's recipe, and quick smoke tests). Greedy accuracy on the test split: :func:`greedy_accuracy`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from collect.family.task import (
    ArithProblem,
    extract_answer,
    generate_problems,
    path_nll,
    prompt,
    train_batches,
)


@dataclass
class Recipe:
    steps: int = 0               # 0: train to the plateau (module docstring); > 0: fixed cosine schedule
    batch_size: int = 32
    lr: float = 3e-3
    lr_width: int | None = None  # peak rate lr * min(1, lr_width / width) (Adam's 1/width rule); None: lr for all
    warmup: int = 200
    weight_decay: float = 0.1
    min_lr_ratio: float = 0.1
    seed: int = 1234
    eval_every: int = 250
    val_problems: int = 512
    patience: int = 2000
    plateau_tol: float = 0.05
    min_steps: int = 2000
    max_steps: int = 16000
    cooldown: float = 0.3

    def key(self) -> dict:
        """The settings that shape training (the plateau settings only matter when ``steps`` is 0): two
        recipes with equal keys train the same model."""
        plateau = ("eval_every", "val_problems", "patience", "plateau_tol", "min_steps", "max_steps", "cooldown")
        return {k: v for k, v in asdict(self).items() if not (self.steps > 0 and k in plateau)}


def encode_batch(tok, examples: list[tuple[ArithProblem, str]], device: str = "cpu") -> dict[str, torch.Tensor]:
    """Right-padded ids, attention mask and labels (-100 on prompt and padding) of prompt + solution + EOS
    for ``(problem, solution)`` pairs."""
    prompts = tok([prompt(p.question) for p, _ in examples], add_special_tokens=False)["input_ids"]
    sols = tok([s for _, s in examples], add_special_tokens=False)["input_ids"]
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


def lr_at(step: int, r: Recipe, cooldown: tuple[int, int] | None = None) -> float:
    """Fixed schedule (``r.steps`` > 0): warm-up then cosine to ``lr * min_lr_ratio`` at ``r.steps``.
    Plateau schedule: warm-up then constant; once the cool-down ``(start, end)`` is known, linear decay to
    ``lr * min_lr_ratio`` at ``end``."""
    if step < r.warmup:
        return r.lr * (step + 1) / r.warmup
    if r.steps > 0:
        t = (step - r.warmup) / max(1, r.steps - r.warmup)
        return r.lr * (r.min_lr_ratio + (1 - r.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))
    if cooldown is None:
        return r.lr
    start, end = cooldown
    t = min(1.0, max(0, step - start) / max(1, end - start))
    return r.lr * (1 - (1 - r.min_lr_ratio) * t)


@torch.no_grad()
def validation_loss(model, tok, examples: list[tuple[ArithProblem, str]], device: str = "cpu",
                    batch_size: int = 128) -> float:
    """Mean token loss on the solution tokens of ``examples`` (teacher forced)."""
    was_training = model.training
    model.eval()
    total = count = 0.0
    for i in range(0, len(examples), batch_size):
        b = encode_batch(tok, examples[i:i + batch_size], device)
        n = float((b["labels"][:, 1:] != -100).sum())
        total += float(model(**b).loss) * n
        count += n
    model.train(was_training)
    return total / count


def entropy_floor(tok, examples: list[tuple[ArithProblem, str]]) -> float:
    """The validation loss per solution token of a perfect model: the path entropy of the examples
    (:func:`collect.family.task.path_nll`) over their solution tokens (end-of-text included)."""
    nll = sum(path_nll(p, s) for p, s in examples)
    tokens = sum(len(tok(s, add_special_tokens=False)["input_ids"]) + 1 for _, s in examples)
    return nll / tokens


def validation_set(recipe: Recipe, exclude: set[str]) -> list[tuple[ArithProblem, str]]:
    """The fixed validation examples of the plateau schedule (a seed of their own, test questions excluded)."""
    rng = np.random.default_rng(recipe.seed + 1)
    probs = [p for p in generate_problems(2 * recipe.val_problems, seed=recipe.seed + 1) if p.question not in exclude]
    return [(p, p.random_solution(rng)) for p in probs[:recipe.val_problems]]


def train(model, tok, recipe: Recipe, *, exclude: set[str], device: str = "cpu", progress: bool = True,
          desc: str = "train") -> dict:
    """Train ``model`` in place with ``recipe`` (module docstring); returns {"losses": [...], "val": [(step,
    validation loss above the floor), ...], "floor": f, "steps": n, "plateau_step": s, "seconds": wall,
    "cpu_seconds": ...}."""
    torch.manual_seed(recipe.seed)
    if recipe.lr_width:
        recipe = replace(recipe, lr=recipe.lr * min(1.0, recipe.lr_width / model.config.hidden_size), lr_width=None)
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=recipe.lr, betas=(0.9, 0.95))
    stream = train_batches(recipe.seed, recipe.batch_size, exclude)
    fixed = recipe.steps > 0
    val = [] if fixed else validation_set(recipe, exclude)
    floor = entropy_floor(tok, val) if val else 0.0
    losses: list[float] = []
    curve: list[tuple[int, float]] = []
    t0, c0 = time.time(), time.process_time()
    use_amp = device.startswith("cuda")
    end = recipe.steps if fixed else None          # known once the plateau is reached
    cool: tuple[int, int] | None = None
    bar = tqdm(total=recipe.steps if fixed else recipe.max_steps, desc=desc, disable=not progress, mininterval=10)
    step = 0
    while end is None or step < end:
        batch = encode_batch(tok, next(stream), device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, recipe, cool)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        bar.update(1)
        if not fixed and end is None and step % recipe.eval_every == 0:
            curve.append((step, validation_loss(model, tok, val, device) - floor))
            bar.set_postfix(val=f"{curve[-1][1]:.4f}")
            if not progress and step % (4 * recipe.eval_every) == 0:   # a line now and then for logs
                print(f"{desc}: step {step}, validation loss {curve[-1][1]:.4f} above the floor, "
                      f"{time.process_time() - c0:.0f} CPU-s",
                      flush=True)
            if _on_plateau(curve, step, recipe):
                end = step + max(recipe.eval_every, int(recipe.cooldown * step))
                cool = (step, end)
    bar.close()
    if not fixed:
        curve.append((step, validation_loss(model, tok, val, device) - floor))
    model.eval()
    return {"losses": losses, "val": curve, "floor": floor, "steps": step, "peak_lr": recipe.lr,
            "plateau_step": None if cool is None else cool[0],
            "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0}


def _on_plateau(curve: list[tuple[int, float]], step: int, r: Recipe) -> bool:
    """Best excess validation loss not improved by more than ``plateau_tol`` (relative) over the last
    ``patience`` steps, or ``max_steps`` reached; never before ``min_steps``."""
    if step >= r.max_steps:
        return True
    if step < max(r.min_steps, r.patience + r.eval_every):
        return False
    before = min(v for s, v in curve if s <= step - r.patience)
    recent = min(v for s, v in curve if s > step - r.patience)
    return recent > before * (1 - r.plateau_tol)


@torch.no_grad()
def generate(model, tok, questions: list[str], *, device: str = "cpu", batch_size: int = 256,
             max_new_tokens: int = 160, do_sample: bool = False, temperature: float = 1.0,
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

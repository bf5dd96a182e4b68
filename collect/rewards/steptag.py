"""Process and outcome reward models (Math-Shepherd style step tags) behind one small interface.

A reward-model folder is a Hugging Face causal-LM folder plus ``reward_config.json``::

    {"kind": "prm" | "orm", "step_tag": "ки", "good_token": "+", "bad_token": "-"}

Input layout (use :func:`encode_reward_input` or :func:`reward_text` when training a reward model so that
training and scoring agree)::

    <question>\n<step 1> ки\n\n<step 2> ки\n\n ... <step m> ки      (PRM: a tag after every step)
    <question>\n<step 1>\n\n<step 2> ... <step m> ки                 (ORM: one tag at the end)

Steps are stripped of surrounding whitespace and of any literal occurrence of the tag; the question part
is ``question_template`` of ``reward_config.json`` (default ``"{question}\n"``).  The text is tokenised in
pieces cut just before and after every tag, so the tag's tokens are exactly ``tokenizer.encode(step_tag)``
wherever it occurs (for tokenizers with the tag as an added token, this equals tokenising the whole
text).  The score at a tag is

    P(good) = exp(z_good) / (exp(z_good) + exp(z_bad)),

the softmax over the two logits {good_token, bad_token} of the next-token distribution at the tag's
last token.  A PRM returns one score per step; an ORM one score per solution.

>>> rm = StepTagRewardModel("data/models/prm-neox", device="cpu")                # doctest: +SKIP
>>> rm.score(["What is 2+3?"], [["Step 1: 2+3=5.", "The answer is 5"]])       # doctest: +SKIP
[[0.81, 0.93]]
"""

from __future__ import annotations

from pathlib import Path

from ..engines.base import resolve_model_path
from .base import DEFAULT_QUESTION_TEMPLATE, STEP_SEPARATOR, RewardConfig, load_lm


def _check_token(tokenizer, text: str, what: str, folder: str, single: bool) -> list[int]:
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    unk = tokenizer.unk_token_id
    if not ids or (unk is not None and unk in ids) or tokenizer.decode(ids) != text:
        raise ValueError(f"{folder}: the tokenizer cannot represent the {what} {text!r} "
                         f"(it encodes to {ids}); the reward model's vocabulary lacks it")
    if single and len(ids) != 1:
        raise ValueError(f"{folder}: the {what} {text!r} must be a single token, the tokenizer splits it into {ids}")
    return ids


def _pieces(question: str, steps: list[str], step_tag: str, kind: str, question_template: str) -> list[str]:
    """Text pieces between tags: piece k is followed by a tag (PRM: one per step; ORM: one at the end)."""
    clean = [s.replace(step_tag, "").strip() for s in steps]
    head = question_template.format(question=question.replace(step_tag, ""))
    if kind == "prm":
        if not clean:
            return []
        return [head + clean[0] + " "] + [STEP_SEPARATOR + c + " " for c in clean[1:]]
    if kind == "orm":
        return [head + STEP_SEPARATOR.join(clean) + " "]
    raise ValueError(f"kind must be 'prm' or 'orm', got {kind!r}")


def reward_text(question: str, steps: list[str], step_tag: str = "ки", kind: str = "prm",
                question_template: str = DEFAULT_QUESTION_TEMPLATE) -> str:
    """The reward model's input as one string (see the module docstring)."""
    return "".join(p + step_tag for p in _pieces(question, steps, step_tag, kind, question_template))


def encode_reward_input(tokenizer, question: str, steps: list[str], step_tag: str, kind: str = "prm",
                        tag_ids: list[int] | None = None,
                        question_template: str = DEFAULT_QUESTION_TEMPLATE) -> tuple[list[int], list[int]]:
    """Token ids of the reward-model input and the positions whose next-token logits give the scores
    (the last token of each tag): one per step for a PRM, one for an ORM."""
    if tag_ids is None:
        tag_ids = list(tokenizer.encode(step_tag, add_special_tokens=False))
    ids: list[int] = []
    positions = []
    for k, piece in enumerate(_pieces(question, steps, step_tag, kind, question_template)):
        ids += list(tokenizer(piece, add_special_tokens=(k == 0))["input_ids"])
        ids += tag_ids
        positions.append(len(ids) - 1)
    return ids, positions


class StepTagRewardModel:
    """A causal LM scored at step tags (Math-Shepherd).  See the module docstring for the formula.

    ``kind`` overrides the folder's ``reward_config.json`` (a PRM can serve as an ORM: one tag at the end).
    ``params`` is the total parameter count; ``stats["tokens"]`` counts every token scored (for the
    verifier-compute term 2 * reward_params * tokens).
    """

    def __init__(self, path: str, kind: str | None = None, device: str = "cpu", dtype=None,
                 batch_size: int = 16, name: str | None = None):
        folder = resolve_model_path(str(path))
        self.config = RewardConfig.read(Path(folder))
        self.kind = kind or self.config.kind
        if self.kind not in ("prm", "orm"):
            raise ValueError(f"{folder}: kind must be 'prm' or 'orm' for a step-tag model, got {self.kind!r}")
        import torch
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        # vocabulary checks come before the weights are loaded: a bad folder fails fast
        self.tag_ids = _check_token(self.tokenizer, self.config.step_tag, "step tag", folder, single=False)
        good = _check_token(self.tokenizer, self.config.good_token, "good token", folder, single=True)[0]
        bad = _check_token(self.tokenizer, self.config.bad_token, "bad token", folder, single=True)[0]
        load_lm(self, folder, device, dtype, batch_size, name)
        self.candidates = torch.tensor([good, bad], device=self.device)

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], list[int]]:
        return encode_reward_input(self.tokenizer, question, steps, self.config.step_tag, self.kind,
                                   tag_ids=self.tag_ids, question_template=self.config.question_template)

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        """Score after each step (PRM) or once per solution (ORM); see the module docstring."""
        import torch

        if len(questions) != len(solutions):
            raise ValueError(f"got {len(questions)} questions but {len(solutions)} solutions")
        encoded = []
        for i, (q, steps) in enumerate(zip(questions, solutions, strict=True)):
            if isinstance(steps, str) or not all(isinstance(s, str) for s in steps):
                raise TypeError(f"solutions[{i}] must be a list of step strings")
            if self.kind == "prm" and not steps:
                encoded.append(None)
                continue
            ids, pos = self.encode(q, list(steps))
            if self.max_len and len(ids) > self.max_len:
                raise ValueError(f"solutions[{i}]: reward-model input of {len(ids)} tokens exceeds the model's "
                                 f"max_position_embeddings={self.max_len}")
            encoded.append((ids, pos))
        out: list[list[float]] = [[] for _ in questions]
        order = sorted((i for i, e in enumerate(encoded) if e is not None), key=lambda i: -len(encoded[i][0]))
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                idx = order[b:b + self.batch_size]
                width = max(len(encoded[i][0]) for i in idx)
                ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
                attn = torch.zeros((len(idx), width), dtype=torch.long)
                for r, i in enumerate(idx):
                    seq = encoded[i][0]
                    ids[r, :len(seq)] = torch.tensor(seq)
                    attn[r, :len(seq)] = 1
                logits = self.model(input_ids=ids.to(self.device), attention_mask=attn.to(self.device)).logits
                rows = torch.tensor([r for r, i in enumerate(idx) for _ in encoded[i][1]], device=self.device)
                cols = torch.tensor([p for i in idx for p in encoded[i][1]], device=self.device)
                pair = logits[rows, cols][:, self.candidates].float()
                p_good = torch.softmax(pair, dim=-1)[:, 0].tolist()
                k = 0
                for i in idx:
                    m = len(encoded[i][1])
                    out[i] = p_good[k:k + m]
                    k += m
                self.stats["sequences"] += len(idx)
                self.stats["tokens"] += int(attn.sum())
        return out


__all__ = ["StepTagRewardModel", "encode_reward_input", "reward_text"]

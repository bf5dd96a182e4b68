"""The engine contract shared by every generation backend.

An engine turns prompts into ``n`` sampled completions each, as a :class:`~collect.params.SamplingParams`
asks::

    engine.generate(["Q: 2+2?\\n"], SamplingParams(n=4, temperature=1.0, max_tokens=64, stop=["\\n\\n"]))
    # -> [[Completion(text=..., token_ids=[...], logprob=-12.3, finish_reason="stop", num_tokens=9), ...]]

``Completion.logprob`` is the sum over the generated tokens of log p(token | context) under the model's
*raw* next-token distribution (softmax of the unscaled logits: temperature 1, no top-p truncation).
That is the sequence log-likelihood under the model, the same quantity vLLM reports by default
(``logprobs_mode="raw_logprobs"``), so records from both backends agree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..params import SamplingParams


@dataclass
class Completion:
    """One generated continuation of a prompt.

    text: the generated text only (not the prompt), with the stop string (and EOS) excluded.
    token_ids: the generated token ids, including a generated EOS token or the token(s) that completed
        a stop string.
    logprob: sum of the generated tokens' log-probabilities under the raw model distribution.
    finish_reason: ``"stop"`` (EOS or stop string) or ``"length"`` (``max_tokens`` reached).
    num_tokens: ``len(token_ids)``.
    stop_reason: the stop string that ended the text, or ``None``.
    """

    text: str
    token_ids: list[int]
    logprob: float
    finish_reason: str
    num_tokens: int
    stop_reason: str | None = field(default=None, compare=False)


@dataclass
class TokenScores:
    """What an engine reads along a given token sequence ``ids`` of length L (teacher forcing).

    token: ``log p(ids[t] | ids[:t])`` for t = 1 .. L-1 (L-1 values).
    top: ``log max_v p(v | ids[:t])`` for t = 1 .. L (L values; the last one is the distribution after the
        whole sequence).
    next: ``log p(v | ids)`` for every v of the ``next_ids`` asked for (after the whole sequence).
    All under the raw model distribution (softmax of the logits, temperature 1).
    """

    token: np.ndarray
    top: np.ndarray
    next: np.ndarray


@runtime_checkable
class Engine(Protocol):
    """What :mod:`collect.sample` and tree search need from a generation backend."""

    model_name: str
    params: float

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]: ...

    def count_tokens(self, text: str) -> int: ...

    def score_tokens(self, sequences: list[list[int]], next_ids: list[int]) -> list[TokenScores]: ...


def check_prompts(prompts: list[str]) -> None:
    """``prompts`` must be a list of strings (a lone string is a common slip)."""
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a list of strings")


def truncate_at_stop(text: str, stop: list[str]) -> tuple[str, str | None]:
    """Cut ``text`` before the earliest occurrence of any stop string; return (text, stop found)."""
    best, which = -1, None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best < 0 or i < best):
            best, which = i, s
    return (text, None) if best < 0 else (text[:best], which)


#: Folders searched for a bare model name: ./data/models and the repository's data/models.
MODEL_DIRS = ("data/models", str(Path(__file__).resolve().parents[2] / "data" / "models"))

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_model_path(model: str, *, search: tuple[str, ...] = MODEL_DIRS) -> str:
    """Turn NAME_OR_PATH into something a loader can open, or fail before any compute.

    An existing directory must hold ``config.json``.  A bare name is looked up under ``data/models/`` (working directory, then repository).
    A string shaped like a Hugging Face hub id (``org/name``) whose first part is not a local folder is
    passed through unchanged (the backend downloads it).  Anything else raises ``FileNotFoundError``.
    """
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise FileNotFoundError(f"model folder {p} has no config.json (expected a Hugging Face model folder)")
        return str(p)
    if p.exists():
        raise FileNotFoundError(f"model path {p} is a file; expected a Hugging Face model folder")
    if os.sep not in model and "/" not in model:
        for root in search:
            cand = Path(root) / model
            if cand.is_dir():
                return resolve_model_path(str(cand), search=())
    first = model.split("/", 1)[0]
    if _HUB_ID.match(model) and not Path(first).exists() and not model.startswith((".", "~")):
        return model
    raise FileNotFoundError(f"model path {model!r} does not exist (looked in the working directory"
                            + "".join(f" and {r}/" for r in dict.fromkeys(search)) + ")")

"""What every reward model shares: the :class:`RewardModel` interface, the folder's ``reward_config.json``
(:class:`RewardConfig`) and loading its causal LM (:func:`load_lm`).

A reward-model folder is a Hugging Face causal-LM folder plus ``reward_config.json``, either a step-tag
model (:mod:`.steptag`)::

    {"kind": "prm" | "orm", "step_tag": "ки", "good_token": "+", "bad_token": "-"}

or a likelihood verifier (:mod:`.likelihood`)::

    {"kind": "likelihood", "min_p": 0.05, "question_template": "{question}\\n", "step_separator": "\\n\\n"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

STEP_SEPARATOR = "\n\n"
DEFAULT_QUESTION_TEMPLATE = "{question}\n"
KINDS = ("prm", "orm", "likelihood")


@runtime_checkable
class RewardModel(Protocol):
    """Scores solutions given as step lists: one list of scores per solution (PRM: one per step)."""

    name: str
    params: float
    kind: str

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]: ...


@dataclass(frozen=True)
class RewardConfig:
    kind: str
    step_tag: str
    good_token: str
    bad_token: str
    question_template: str = DEFAULT_QUESTION_TEMPLATE

    min_p: float = 0.05
    step_separator: str = STEP_SEPARATOR

    @classmethod
    def read(cls, folder: Path) -> RewardConfig:
        path = Path(folder) / "reward_config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: not a reward-model folder (no reward_config.json; expected "
                                    '{"kind": "prm"|"orm", "step_tag": ..., "good_token": ..., "bad_token": ...} '
                                    'or {"kind": "likelihood", "min_p": ...})')
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if raw.get("kind") not in KINDS:
            raise ValueError(f"{path}: field 'kind' must be one of {list(KINDS)}, got {raw.get('kind')!r}")
        template = raw.get("question_template", DEFAULT_QUESTION_TEMPLATE)
        if "{question}" not in template:
            raise ValueError(f"{path}: field 'question_template' must contain '{{question}}', got {template!r}")
        if raw["kind"] == "likelihood":
            min_p = raw.get("min_p", cls.min_p)
            if not isinstance(min_p, (int, float)) or not 0 < min_p <= 1:
                raise ValueError(f"{path}: field 'min_p' must be a number in (0, 1], got {min_p!r}")
            sep = raw.get("step_separator", STEP_SEPARATOR)
            if not isinstance(sep, str) or not sep:
                raise ValueError(f"{path}: field 'step_separator' must be a non-empty string, got {sep!r}")
            return cls("likelihood", "", "", "", template, float(min_p), sep)
        missing = [k for k in ("step_tag", "good_token", "bad_token") if not raw.get(k)]
        if missing:
            raise ValueError(f"{path}: missing field(s) {missing}")
        return cls(raw["kind"], raw["step_tag"], raw["good_token"], raw["bad_token"], template)


def load_lm(obj, folder: str, device: str, dtype, batch_size: int, name: str | None) -> None:
    """Load the causal LM of a reward-model folder onto ``obj`` (model, device, params, name, batch size,
    max length, pad id, stats); ``obj.tokenizer`` must be set and checked first, so a bad folder fails
    before its weights are read."""
    import torch
    from transformers import AutoModelForCausalLM

    from ..engines.hf import _torch_dtype

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    obj.device = torch.device(device)
    tdtype = _torch_dtype(dtype, str(device))
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=tdtype)
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=tdtype)
    obj.model = model.to(obj.device).eval()
    obj.params = float(sum(p.numel() for p in obj.model.parameters()))
    obj.name = name or Path(folder.rstrip("/")).name
    obj.batch_size = int(batch_size)
    obj.max_len = getattr(obj.model.config, "max_position_embeddings", None)
    obj.pad_id = obj.tokenizer.pad_token_id
    if obj.pad_id is None:
        obj.pad_id = obj.tokenizer.eos_token_id if obj.tokenizer.eos_token_id is not None else 0
    obj.stats = {"sequences": 0, "tokens": 0}


__all__ = ["RewardModel", "RewardConfig", "load_lm", "STEP_SEPARATOR", "DEFAULT_QUESTION_TEMPLATE", "KINDS"]

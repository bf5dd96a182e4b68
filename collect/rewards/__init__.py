"""Reward models behind one interface (:class:`RewardModel`: ``score(questions, step_lists)``):

* :mod:`.base`: the interface, ``reward_config.json`` (:class:`RewardConfig`), loading the causal LM;
* :mod:`.steptag`: Math-Shepherd step-tag PRMs and ORMs (:class:`StepTagRewardModel`);
* :mod:`.likelihood`: likelihood verifiers (:class:`LikelihoodVerifier`), read with transformers or with
  vLLM's prompt log-probabilities.

>>> rm = load_reward_model("data/models/arith-verifier-2m")                     # doctest: +SKIP
>>> rm.score(["Compute: 12+3-4"], [["12+3=15", "15-4=11", "The answer is 11"]])   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from ..engines.base import resolve_model_path
from .base import KINDS, STEP_SEPARATOR, RewardConfig, RewardModel
from .likelihood import LikelihoodVerifier, aggregate, write_reward_config
from .steptag import StepTagRewardModel, encode_reward_input, reward_text


def load_reward_model(path: str, kind: str | None = None, device: str = "cpu", backend: str = "hf",
                      **kw) -> RewardModel:
    """Open a reward-model folder (see the module docstring): a step-tag PRM/ORM, or a likelihood verifier
    (:class:`LikelihoodVerifier`, read with ``backend`` "hf" or "vllm") when its ``reward_config.json`` says
    ``"kind": "likelihood"``; errors name the folder and the problem."""
    folder = resolve_model_path(str(path))
    if RewardConfig.read(Path(folder)).kind == "likelihood":
        if kind not in (None, "likelihood", "prm"):
            raise ValueError(f"{folder}: a likelihood verifier scores every step; kind {kind!r} does not apply")
        return LikelihoodVerifier(folder, device=device, backend=backend, **kw)
    if backend != "hf":
        raise ValueError(f"{folder}: a step-tag reward model reads its scores with transformers (backend 'hf'), "
                         f"got backend {backend!r}")
    return StepTagRewardModel(folder, kind=kind, device=device, **kw)


__all__ = ["RewardModel", "RewardConfig", "StepTagRewardModel", "LikelihoodVerifier", "load_reward_model",
           "encode_reward_input", "reward_text", "aggregate", "write_reward_config", "STEP_SEPARATOR", "KINDS"]

"""A likelihood verifier: a causal LM that scores every step of a solution by how plausible it finds the
step's written tokens (a generative process reward model; no step tags, no classification head).

A reward-model folder of this kind is a Hugging Face causal-LM folder with ``reward_config.json``::

    {"kind": "likelihood", "min_p": 0.05, "question_template": "{question}\\n", "step_separator": "\\n\\n"}

Formula. The verifier V reads ``question_template(question)`` followed by the steps joined by the step
separator. For each token ``t`` of step ``j`` and the token that ends the step (the separator after it;
for the last step given, the better of the separator and end-of-text), with ``p`` the verifier's
next-token distribution at that position,

    s_t = min(1, p(t) / (min_p * max_v p(v)))          (min-p plausibility of the token)

so a token the verifier would keep under min-p sampling with threshold ``min_p`` costs nothing, and a
token it considers ``r`` times less likely than that costs a factor ``r``. The step's own score is
``prod_t s_t`` and the score returned after step ``k`` is the running product over steps ``1..k``:

    score_k = prod_{j <= k} prod_{t in step j} s_t   in (0, 1].

Assumptions. V is a model of correct solutions (e.g. a policy-like LM trained on reference solutions of
the task, stronger than the policies it judges): where the next token is determined (a copied value, the
digits of a result) V puts nearly all its mass on the right one, so a slip costs orders of magnitude;
where several continuations are valid (which term to use next, how to phrase a step), V spreads its mass
over them, and ``min_p`` keeps those choices free of charge as long as each gets at least ``min_p`` of
the favourite's probability. The running product means "the prefix is still right", which is what REBASE
and MCTS read from a process reward model, and ``score_m`` is the solution's reward.

>>> rm = LikelihoodVerifier("data/models/arith-verifier-2m", backend="vllm")       # doctest: +SKIP
>>> rm.score(["Compute: 12+3-4"], [["12+3=15", "15-4=11", "The answer is 11"]])   # doctest: +SKIP
[[0.99, 0.98, 0.98]]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..engines.base import resolve_model_path
from .base import RewardConfig


class LikelihoodVerifier:
    """Scores (question, steps) pairs with the min-p plausibility of every token (module docstring).

    The verifier's causal LM is read by an engine (:meth:`~collect.engines.base.Engine.score_tokens`):
    ``backend="hf"`` (transformers, ``device``, ``dtype``, ``batch_size`` sequences per forward pass) or
    ``backend="vllm"`` (vLLM's prompt log-probabilities; ``engine_kw`` go to
    :class:`~collect.engines.vllm.VLLMEngine`); both read the same numbers (float32 on CPU).

    ``params`` is the parameter count and ``stats["tokens"]`` counts every token read (for the
    verifier-compute term 2 * reward_params * tokens). ``kind`` is ``"prm"``: one score per step.
    """

    kind = "prm"

    def __init__(self, path: str, device: str = "cpu", dtype=None, batch_size: int = 64,
                 name: str | None = None, kind: str | None = None, backend: str = "hf", **engine_kw):
        from ..engines import load_engine

        folder = resolve_model_path(str(path))
        config = RewardConfig.read(Path(folder))
        if config.kind != "likelihood":
            raise ValueError(f"{folder}: reward_config.json kind is {config.kind!r}, not 'likelihood'")
        from transformers import AutoTokenizer

        self._setup(config, AutoTokenizer.from_pretrained(folder), folder)   # checks before the weights
        name = name or Path(folder.rstrip("/")).name
        if backend == "hf":
            engine = load_engine("hf", folder, device=device, dtype=dtype, batch_size=batch_size, name=name)
        elif backend == "vllm":
            engine = load_engine("vllm", folder, dtype=dtype, name=name, **engine_kw)
        else:
            raise ValueError(f"unknown backend {backend!r} for a likelihood verifier; expected 'hf' or 'vllm'")
        self._attach(engine, batch_size)

    @classmethod
    def from_model(cls, model, tokenizer, *, min_p: float = 0.05, question_template: str = "{question}\n",
                   step_separator: str = "\n\n", batch_size: int = 64, name: str = "verifier"):
        """A verifier around a model already in memory (e.g. while it is being trained)."""
        from ..engines.hf import HFEngine

        self = cls.__new__(cls)
        self._setup(RewardConfig("likelihood", "", "", "", question_template, float(min_p), step_separator),
                    tokenizer, name)
        self._attach(HFEngine.from_model(model, tokenizer, batch_size=batch_size, name=name), batch_size)
        return self

    def _setup(self, config: RewardConfig, tokenizer, where: str) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.sep_ids = list(tokenizer.encode(config.step_separator, add_special_tokens=False))
        if not self.sep_ids or tokenizer.decode(self.sep_ids) != config.step_separator:
            raise ValueError(f"{where}: the tokenizer cannot represent the step separator {config.step_separator!r}")
        self.eos_id = tokenizer.eos_token_id
        if self.eos_id is None:
            raise ValueError(f"{where}: the tokenizer has no end-of-text token")

    def _attach(self, engine, batch_size: int) -> None:
        self.engine, self.name, self.params = engine, engine.model_name, float(engine.params)
        self.batch_size = int(batch_size)
        model = getattr(engine, "model", None)   # HFEngine: the torch model
        self.max_len = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if self.max_len is None and hasattr(engine, "llm"):
            self.max_len = engine.llm.llm_engine.model_config.max_model_len
        self.stats = {"sequences": 0, "tokens": 0}

    def encode(self, question: str, steps: list[str]) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of the verifier's input and, for every step, the half-open range of positions whose
        tokens it scores: the step's tokens and the separator after it; for the last step, its tokens only
        (its end is scored separately as separator-or-end-of-text)."""
        head = self.config.question_template.format(question=question)
        ids = list(self.tokenizer(head, add_special_tokens=True)["input_ids"])
        spans = []
        for k, step in enumerate(steps):
            start = len(ids)
            ids += list(self.tokenizer(step.strip(), add_special_tokens=False)["input_ids"])
            if k + 1 < len(steps):
                ids += self.sep_ids
            spans.append((start, len(ids)))
        return ids, spans

    def margins(self, questions: list[str], solutions: list[list[str]]) -> list[list[np.ndarray]]:
        """For every solution and step, ``log p(t) - log max_v p(v)`` (<= 0) of each token the step's score
        reads (its tokens, the separator after it; for the last step, last the better of separator and
        end-of-text): everything :meth:`score` needs, for any ``min_p``. ``[]`` for no steps."""
        if len(questions) != len(solutions):
            raise ValueError(f"got {len(questions)} questions but {len(solutions)} solutions")
        encoded: list = []
        for i, (q, steps) in enumerate(zip(questions, solutions, strict=True)):
            if isinstance(steps, str) or not all(isinstance(s, str) for s in steps):
                raise TypeError(f"solutions[{i}] must be a list of step strings")
            if not steps:
                encoded.append(None)
                continue
            ids, spans = self.encode(q, list(steps))
            if self.max_len and len(ids) > self.max_len:
                raise ValueError(f"solutions[{i}]: verifier input of {len(ids)} tokens exceeds the model's "
                                 f"max_position_embeddings={self.max_len}")
            encoded.append((ids, spans))
        out: list[list[np.ndarray]] = [[] for _ in questions]
        todo = [i for i, e in enumerate(encoded) if e is not None]
        read = self.engine.score_tokens([encoded[i][0] for i in todo], [self.sep_ids[0], self.eos_id])
        for i, r in zip(todo, read, strict=True):
            tok = r.token - r.top[:-1]                      # token t is read from the distribution at t - 1
            steps = [tok[a - 1:e - 1] for a, e in encoded[i][1]]
            steps[-1] = np.append(steps[-1], r.next.max() - r.top[-1])   # how well the last step ends
            out[i] = steps
            self.stats["tokens"] += len(encoded[i][0])
        self.stats["sequences"] += len(todo)
        return out

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        """Running-product score after each step (see the module docstring); ``[]`` for no steps."""
        return [aggregate(m, self.config.min_p) for m in self.margins(questions, solutions)]


def aggregate(step_margins: list[np.ndarray], min_p: float) -> list[float]:
    """Running-product scores from one solution's token margins (:meth:`LikelihoodVerifier.margins`):
    ``exp(cumsum_k sum_t min(0, margin_t - log min_p))``.

    >>> [round(x, 6) for x in aggregate([np.log([1.0, 0.5]), np.log([0.01])], min_p=0.2)]
    [1.0, 0.05]
    """
    if not step_margins:
        return []
    logs = [float(np.minimum(0.0, m - math.log(min_p)).sum()) for m in step_margins]
    return [float(x) for x in np.exp(np.cumsum(logs))]


def write_reward_config(folder: str | Path, *, min_p: float = 0.05, question_template: str = "{question}\n",
                        step_separator: str = "\n\n") -> Path:
    """Write the ``reward_config.json`` that makes a causal-LM folder a likelihood verifier."""
    import json

    path = Path(folder) / "reward_config.json"
    path.write_text(json.dumps({"kind": "likelihood", "min_p": min_p, "question_template": question_template,
                                "step_separator": step_separator}, indent=1) + "\n")
    return path


__all__ = ["LikelihoodVerifier", "aggregate", "write_reward_config"]

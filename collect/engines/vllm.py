"""vLLM backend: one request per prompt with ``SamplingParams(n=...)``, so each prompt is prefilled once
and its KV blocks are shared by the ``n`` samples; automatic prefix caching reuses shared prefixes
(few-shot headers, tree-search partial solutions) across requests; tensor parallelism via
``tensor_parallel_size``.

The request building (:func:`sampling_kwargs`, :func:`request_seeds`) and the output conversion
(:func:`convert_output`) are pure functions, testable without vLLM or a GPU.

Seeds: vLLM derives the seed of sample j of a request with seed s as s + j, so prompt i of a call with
``seed`` gets ``seed + i * n``: no two samples of one call share a random stream.

Log-probabilities: ``logprobs=0`` asks vLLM for the sampled token's log-probability only;
``Completion.logprob`` is vLLM's ``cumulative_logprob`` (or the sum of the per-token values), which under
vLLM's default ``logprobs_mode="raw_logprobs"`` is computed from the raw model distribution, the same
quantity :class:`~collect.engines.hf.HFEngine` reports.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from .base import Completion, check_generate_args


def sampling_kwargs(n: int, temperature: float, top_p: float, max_tokens: int, seed: int | None,
                    stop: list[str] | None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request."""
    kw: dict[str, Any] = {"n": int(n), "temperature": float(temperature), "top_p": float(top_p),
                          "max_tokens": int(max_tokens), "logprobs": 0, "include_stop_str_in_output": False}
    if seed is not None:
        kw["seed"] = int(seed)
    if stop:
        kw["stop"] = list(stop)
    return kw


def request_seeds(num_prompts: int, n: int, seed: int | None) -> list[int | None]:
    """Per-request seeds spaced by ``n`` (vLLM gives sample j of a request seed + j)."""
    if seed is None:
        return [None] * num_prompts
    return [int(seed) + i * n for i in range(num_prompts)]


def _token_logprob(entry: Any, token_id: int) -> float:
    value = entry[token_id]
    return float(getattr(value, "logprob", value))


def convert_output(request_output: Any) -> list[Completion]:
    """Turn one vLLM ``RequestOutput`` into completions ordered by their sample index.

    Uses the attributes ``outputs[*].index, text, token_ids, cumulative_logprob, logprobs,
    finish_reason, stop_reason``.
    """
    outs = sorted(request_output.outputs, key=lambda o: o.index)
    result = []
    for o in outs:
        ids = [int(t) for t in o.token_ids]
        if o.cumulative_logprob is not None:
            lp = float(o.cumulative_logprob)
        elif o.logprobs is not None:
            lp = float(sum(_token_logprob(o.logprobs[k], t) for k, t in enumerate(ids)))
        else:
            raise ValueError("vLLM output carries no log-probabilities; request logprobs=0")
        reason = o.finish_reason
        if reason not in ("stop", "length"):
            raise RuntimeError(f"vLLM finished a sample with reason {reason!r} (expected 'stop' or 'length')")
        stop_reason = o.stop_reason if isinstance(o.stop_reason, str) else None
        result.append(Completion(text=o.text, token_ids=ids, logprob=lp, finish_reason=reason,
                                 num_tokens=len(ids), stop_reason=stop_reason))
    return result


def count_params_in_folder(folder: str | Path) -> float:
    """Total parameter count from the safetensors headers of a model folder (no weights are read)."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no *.safetensors files to count parameters from")
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for key, meta in header.items():
            if key == "__metadata__":
                continue
            numel = 1
            for d in meta["shape"]:
                numel *= int(d)
            total += numel
    return float(total)


class VLLMEngine:
    """vLLM's offline ``LLM`` behind the :class:`~collect.engines.base.Engine` interface.

    Extra keyword arguments go to ``vllm.LLM`` (``gpu_memory_utilization``, ``max_model_len``,
    ``logprobs_mode``, ...).  ``params`` is counted from the safetensors headers of the model folder.
    """

    def __init__(self, model_path: str, tensor_parallel_size: int = 1, enable_prefix_caching: bool = True,
                 dtype: str = "auto", seed: int = 0, name: str | None = None, **llm_kwargs: Any):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the vllm backend needs the vllm package (pip install 'inference-scaling[vllm]')"
                              ) from exc
        self._SamplingParams = SamplingParams
        self.model_path = str(model_path)
        self.model_name = name or Path(self.model_path.rstrip("/")).name
        self.llm = LLM(model=self.model_path, tensor_parallel_size=tensor_parallel_size,
                       enable_prefix_caching=enable_prefix_caching, dtype=dtype, seed=seed, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        folder = Path(self.model_path)
        if not folder.is_dir():  # a hub id: vLLM has downloaded it into the Hugging Face cache
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(self.model_path, allow_patterns=["*.safetensors", "*.json"]))
        self.params = count_params_in_folder(folder)
        self.stats = {"requests": 0, "prompt_tokens": 0, "generated_tokens": 0}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def generate(self, prompts: list[str], n: int = 1, *, temperature: float = 1.0, top_p: float = 1.0,
                 max_tokens: int = 1024, seed: int | None = None,
                 stop: list[str] | None = None) -> list[list[Completion]]:
        stop = check_generate_args(prompts, n, temperature, top_p, max_tokens, stop)
        if max_tokens == 0 or not prompts:
            return [[Completion("", [], 0.0, "length", 0) for _ in range(n)] for _ in prompts]
        params = [self._SamplingParams(**sampling_kwargs(n, temperature, top_p, max_tokens, s, stop))
                  for s in request_seeds(len(prompts), n, seed)]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        result = [convert_output(o) for o in outputs]
        self.stats["requests"] += len(prompts)
        self.stats["prompt_tokens"] += sum(len(o.prompt_token_ids or []) for o in outputs)
        self.stats["generated_tokens"] += sum(c.num_tokens for r in result for c in r)
        return result

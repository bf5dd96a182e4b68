"""Plumbing shared by the notebooks in this folder: where they read and write, and how much work they do.

Not part of the ``scaling`` library: it reads environment variables and finds the repository root,
which only the notebooks (run by ``scripts/make_figures.py`` and ``tests/test_notebooks.py``) need.

* ``SCALING_ROOT``     the repository (default: the one holding the working directory);
* ``SCALING_DATA``     sample tables (default ``<root>/data/samples``);
* ``SCALING_FIGURES``  where figures go (default ``<root>/figures``);
* ``SCALING_NBOOT``    bootstrap replicates (default 200);
* ``SCALING_PROBLEMS`` keep at most this many problems per task (default all).

>>> cfg = config()            # doctest: +SKIP
>>> save(fig, cfg, "fig1")    # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Config", "config", "save"]


@dataclass
class Config:
    """Where the notebooks read and write, and how much work they do."""

    root: Path
    data: Path
    figures: Path
    n_boot: int
    max_problems: int | None


def _find_root(start: Path) -> Path:
    for p in [start, *start.parents]:
        if (p / "pyproject.toml").exists() and (p / "scaling").is_dir():
            return p
    return start


def config(start: str | os.PathLike | None = None) -> Config:
    """Settings from the environment (see the module docstring); creates the figures folder."""
    env = os.environ
    root = Path(env["SCALING_ROOT"]) if env.get("SCALING_ROOT") else _find_root(Path(start or os.getcwd()).resolve())
    figures = Path(env.get("SCALING_FIGURES") or root / "figures")
    figures.mkdir(parents=True, exist_ok=True)
    return Config(root=root, data=Path(env.get("SCALING_DATA") or root / "data" / "samples"), figures=figures,
                  n_boot=int(env.get("SCALING_NBOOT") or 200), max_problems=int(env.get("SCALING_PROBLEMS") or 0) or None)


def save(fig, cfg: Config, name: str, dpi: int = 130) -> Path:
    """Write ``<figures>/<name>.png`` (tight layout) and return the path."""
    fig.tight_layout()
    path = cfg.figures / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")   # keeps legends placed beside the axes
    return path

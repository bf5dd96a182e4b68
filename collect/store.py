"""A sample-table directory filled by atomic part files, with resume bookkeeping.

Layout of a table directory ``DIR`` written by ``python -m collect sample|score|search``::

    DIR/<prefix>-<seq>-<uid>.parquet        one part per finished batch (sample-table rows)
    DIR/texts/<same stem>.jsonl             the solution texts of that part, one JSON object per row
    DIR/trees/<same stem>.parquet           search only: the trees of that part's runs, one row per node
    DIR/.collect/<task>--<model>--<method>.json   the settings the rows were made with (checked on resume)

``<prefix>`` is ``<task>--<model>--<method>--shard<i>of<k>`` (each name through :func:`scaling.names.slug`),
so shards, models and methods never collide.  A part is written texts (and trees) first, each file through
a temporary file and ``os.replace``: a part file that exists is complete, and its texts exist.  A run that is killed loses at most the batch in
flight; on the next run the finished keys are read back from the parts and skipped, orphaned texts and
temporary files of the same writer are removed, and no row is ever written twice.  The keys of a finished row are ``(problem_id, sample_id)`` for
``sample`` and ``(problem_id, run_id)`` for ``search`` (a search run is written whole).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from scaling import write_samples
from scaling.names import slug
from scaling.samples import atomic_path, table_files

TEXTS_DIR = "texts"
TREES_DIR = "trees"
META_DIR = ".collect"
KEY_COLUMNS = ["task", "problem_id", "model", "method", "sample_id"]


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def part_files(root: str | os.PathLike) -> list[Path]:
    """Every Parquet part under ``root`` (recursively), skipping hidden folders and texts/trees/tasks/models."""
    if not Path(root).exists():
        return []
    return [p for p in table_files(root) if p.name.endswith(".parquet")]


def texts_path(part: Path) -> Path:
    """The texts file that belongs to a part file."""
    part = Path(part)
    return part.parent / TEXTS_DIR / (part.name[: -len(".parquet")] + ".jsonl")


def trees_path(part: Path) -> Path:
    """The search-trees file that belongs to a part file."""
    part = Path(part)
    return part.parent / TREES_DIR / part.name


def read_texts(part: Path) -> pd.DataFrame:
    """The solution texts of one part as a DataFrame (one row per solution)."""
    path = texts_path(part)
    if not path.is_file():
        raise FileNotFoundError(f"{part}: no solution texts (expected {path})")
    return pd.read_json(path, lines=True, dtype=False)


class PartWriter:
    """Writes the parts of one writer (task, model, method, shard) into a table directory."""

    def __init__(self, out_dir: str | os.PathLike, *, task: str, model: str, method: str,
                 shard: tuple[int, int] = (0, 1)):
        self.dir = Path(out_dir)
        i, k = shard
        self.prefix = f"{slug(task)}--{slug(model)}--{slug(method)}--shard{i}of{k}"
        self.meta_name = f"{slug(task)}--{slug(model)}--{slug(method)}.json"
        self.task, self.model, self.method = task, model, method

    # ---------------------------------------------------------------- resume
    def done_keys(self, columns: tuple[str, ...] = ("problem_id", "sample_id")) -> set[tuple]:
        """The ``columns`` of every row already written by any shard for this task, model and method
        (ids as strings, ``sample_id`` as int)."""
        import pyarrow.parquet as pq

        done: set[tuple] = set()
        if not self.dir.exists():
            return done
        need = ["task", "model", "method", *columns]
        for part in part_files(self.dir):
            try:
                names = set(pq.read_schema(part).names)
            except Exception as exc:  # noqa: BLE001 - surface the file name
                raise ValueError(f"{part}: cannot be read as Parquet ({exc})") from exc
            if not set(need) <= names:
                continue
            t = pq.read_table(part, columns=need).to_pandas()
            t = t[(t["task"] == self.task) & (t["model"] == self.model) & (t["method"] == self.method)]
            cols = [t[c].astype(int) if c == "sample_id" else t[c].astype(str) for c in columns]
            done.update(zip(*cols, strict=True))
        return done

    def clean(self) -> list[Path]:
        """Remove this writer's leftovers of a killed run: temporary files and texts without a part."""
        removed = []
        for folder in (self.dir, self.dir / TEXTS_DIR, self.dir / TREES_DIR):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if p.name.startswith(f".{self.prefix}-") and p.name.endswith(".tmp"):
                    p.unlink(missing_ok=True)
                    removed.append(p)
        for sub, suffix in ((TEXTS_DIR, ".jsonl"), (TREES_DIR, ".parquet")):
            folder = self.dir / sub
            if folder.is_dir():
                for p in folder.glob(f"{self.prefix}-*{suffix}"):
                    if not (self.dir / (p.name[: -len(suffix)] + ".parquet")).exists():
                        p.unlink(missing_ok=True)
                        removed.append(p)
        return removed

    def check_settings(self, settings: dict) -> None:
        """Record the generation settings; refuse to mix rows made with different ones."""
        path = self.dir / META_DIR / self.meta_name
        if path.is_file():
            old = json.loads(path.read_text())
            diff = {k: (old.get(k), v) for k, v in settings.items() if k in old and old.get(k) != v}
            if diff:
                detail = ", ".join(f"{k}: existing {a!r} vs requested {b!r}" for k, (a, b) in diff.items())
                raise ValueError(f"{self.dir}: rows for task {self.task!r}, model {self.model!r}, method "
                                 f"{self.method!r} were made with other settings ({detail}); use another --out "
                                 f"or the same settings (recorded in {path})")
            settings = {**old, **settings}
        atomic_write_text(path, json.dumps(settings, indent=1, sort_keys=True))

    # ---------------------------------------------------------------- writing
    def write(self, rows: pd.DataFrame, texts: Iterable[dict], trees: pd.DataFrame | None = None) -> Path:
        """Write one part: texts (and ``trees``) first, then the validated table, each atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        seq = len(list(self.dir.glob(f"{self.prefix}-*.parquet")))
        stem = f"{self.prefix}-{seq:06d}-{uuid.uuid4().hex[:8]}"
        part = self.dir / f"{stem}.parquet"
        body = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
        atomic_write_text(texts_path(part), body)
        if trees is not None:
            write_samples(trees, trees_path(part), validate_first=False)
        write_samples(rows, part)
        return part


__all__ = ["PartWriter", "part_files", "texts_path", "trees_path", "read_texts", "atomic_write_text", "slug",
           "TEXTS_DIR", "TREES_DIR", "KEY_COLUMNS"]

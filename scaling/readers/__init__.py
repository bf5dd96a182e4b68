"""Readers for the files evaluation tools write: bring your own samples.

Four formats become sample tables (:mod:`scaling.schema`), each by a reader that fills every contract
column its files carry, takes the rest from its arguments, and refuses -- naming the file, the record and
the field, and what to pass -- what it can find nowhere:

===================  =============================================  ============================================
format               files                                          reader
===================  =============================================  ============================================
``lm-eval``          lm-evaluation-harness ``--log_samples``:       :func:`read_lm_eval`
                     ``samples_<task>_<date>.jsonl`` (+ results)
``inspect``          Inspect eval logs: ``*.eval``, ``*.json``      :func:`read_inspect`
``search-and-learn`` ``best_of_n_completions.jsonl``                :func:`read_search_and_learn`
``monkeys``          Large Language Monkeys: ``<problem id>.yaml``  :func:`read_monkeys`
===================  =============================================  ============================================

:func:`scaling.read_samples` recognises them (beside sample tables) in a folder and passes its keyword
arguments to the readers that take them; ``format=`` names the format instead.  Answers and correctness
that a tool does not store per response are graded by a function ``grade(task, text, reference)`` the
caller passes -- ``collect.grading.grade`` is one (this package never imports ``collect``); lm-eval tasks
whose rule is a simple exact match are graded by that rule, read from the run's results file.  Three
extra columns say where things came from: ``grader``, ``token_count``, ``params_source``.

>>> import scaling
>>> df = scaling.read_samples("lm_eval_out/")                               # doctest: +SKIP
>>> import collect.grading
>>> df = scaling.read_samples("monkeys_gsm8k/", task="gsm8k", model="Llama-3-8B", params=8.03e9,
...                           grade=collect.grading.grade, tokenizer="models/Llama-3-8B")  # doctest: +SKIP
"""

from __future__ import annotations

import inspect as _pyinspect
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import inspect_log, lm_eval, monkeys, search_and_learn
from ._common import PROVENANCE, load_grader, safetensors_params, token_counter
from .inspect_log import read_inspect
from .lm_eval import TaskRule, read_lm_eval
from .monkeys import read_monkeys
from .search_and_learn import read_search_and_learn

#: Format name -> (module with ``matches``, reader).
FORMATS: dict[str, tuple[object, Callable[..., pd.DataFrame]]] = {
    lm_eval.FORMAT: (lm_eval, read_lm_eval),
    inspect_log.FORMAT: (inspect_log, read_inspect),
    search_and_learn.FORMAT: (search_and_learn, read_search_and_learn),
    monkeys.FORMAT: (monkeys, read_monkeys),
}
#: File name endings a tool file may have (besides the sample tables' .parquet / .jsonl).
TOOL_SUFFIXES = (".jsonl", ".json", ".eval", ".yaml", ".yml")
#: A file that belongs to another one (read through it), e.g. lm-eval's ``results_<date>.json``.
SIDECAR = "sidecar"


def detect(path: str | os.PathLike) -> str | None:
    """The tool format of one file (a name in :data:`FORMATS`), :data:`SIDECAR`, or None."""
    path = Path(path)
    if lm_eval.is_sidecar(path):
        return SIDECAR
    for name, (module, _) in FORMATS.items():
        if module.matches(path):
            return name
    return None


def options_of(fmt: str) -> set[str]:
    """The keyword arguments the reader of ``fmt`` takes."""
    reader = FORMATS[fmt][1]
    return {p.name for p in _pyinspect.signature(reader).parameters.values() if p.kind is p.KEYWORD_ONLY}


ALL_OPTIONS = frozenset().union(*(options_of(f) for f in FORMATS))


def read_tool(paths: list[Path], fmt: str, **options) -> list[tuple[str, pd.DataFrame]]:
    """Read files of one tool format (each file alone; Large Language Monkeys files one folder at a time),
    passing each reader the ``options`` it takes.  Returns (source, table) pairs."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {sorted(FORMATS)}")
    reader = FORMATS[fmt][1]
    mine = options_of(fmt)
    kw = {k: v for k, v in options.items() if k in mine}
    if fmt == monkeys.FORMAT:
        folders: dict[Path, list[Path]] = {}
        for p in paths:
            folders.setdefault(p.parent, []).append(p)
        return [(str(folder), reader(files, **kw)) for folder, files in folders.items()]
    return [(str(p), reader(p, **kw)) for p in paths]


__all__ = ["read_lm_eval", "read_inspect", "read_search_and_learn", "read_monkeys", "detect", "read_tool",
           "FORMATS", "TaskRule", "load_grader", "token_counter", "safetensors_params", "PROVENANCE", "ALL_OPTIONS"]

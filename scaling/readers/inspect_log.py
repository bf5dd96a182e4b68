"""Inspect (``inspect_ai``) eval logs: ``.eval`` (a zip of JSON files) and ``.json`` (one JSON document).

What Inspect writes (log format version 2): the run's ``eval`` (task, model, model arguments, epochs,
packages), ``plan`` (generation settings), ``results`` and, per sample **and epoch**, a record with ``id``,
``epoch``, ``input``, ``target``, ``output`` (``completion``, ``usage``: input/output tokens), ``scores``
(per scorer: ``value``, ``answer``, ``explanation``) and ``metadata``.  In a ``.eval`` file these are
``header.json`` and ``samples/<id>_epoch_<n>.json`` (zstd-compressed by recent versions: reading them
needs the ``zstandard`` package, which ``inspect_ai`` itself installs).

How the contract is filled: one row per (sample, epoch), ``sample_id = epoch - 1``; ``correct`` and
``answer`` from the scorer (``C``/``I``/``N``, booleans, 1/0 -- partial credit is refused), or from a
grader ``grade(task, text, reference)`` applied to ``output.completion`` when one is given;
``gen_tokens``/``prompt_tokens`` from ``output.usage`` (or counted with ``tokenizer=``); ``temperature``
from the run's generation settings (``greedy`` at 0).  The parameter count is not logged: the caller's
``params``, else the safetensors of a local ``model_path``.

Inspect's ``hf`` provider generates in batches and logs the *batch's* padded prompt and generation length
as every sample's usage (``inspect_ai`` 0.3.285, ``model/_providers/hf.py``): run it with
``max_connections=1`` or pass ``tokenizer=`` to count each completion instead.

>>> from scaling.readers import read_inspect
>>> df = read_inspect("logs/2025-01-01T00-00-00_task_abc.eval", params=8e9)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._common import (
    Grader,
    TokenizerArg,
    as_grading,
    counter_for,
    fail,
    finish,
    local_folder,
    method_of,
    no_tokens,
    resolve_params,
)

FORMAT = "inspect"
_ZSTD = 93


def matches(path: Path) -> bool:
    """A ``.eval`` zip with ``header.json`` or ``_journal/start.json``, or a ``.json`` log whose start holds
    the ``version``, ``status`` and ``eval`` keys."""
    if path.suffix == ".eval":
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (OSError, zipfile.BadZipFile):
            return False
        return "header.json" in names or "_journal/start.json" in names
    if path.suffix == ".json":
        try:
            with open(path) as fh:
                head = fh.read(4096)
        except OSError:
            return False
        return head.lstrip().startswith("{") and all(f'"{k}"' in head for k in ("version", "status", "eval"))
    return False


def _member(zf: zipfile.ZipFile, name: str, file: Path) -> Any:
    """One JSON member of a ``.eval`` zip, zstd members included."""
    info = zf.getinfo(name)
    try:
        raw = zf.read(info)
    except NotImplementedError:
        if info.compress_type != _ZSTD:
            raise
        try:
            import zstandard
        except ImportError as exc:
            raise fail(file, "its members are zstd-compressed; reading them needs the 'zstandard' package "
                             "(pip install zstandard, or pip install -e '.[readers]')") from exc
        with open(file, "rb") as fh:
            fh.seek(info.header_offset)
            head = fh.read(30)
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            raw = zstandard.ZstdDecompressor().decompress(fh.read(info.compress_size), max_output_size=info.file_size)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise fail(file, f"member {name} is not valid JSON ({exc})") from exc


def _log(file: Path) -> tuple[dict, Iterator[tuple[str, dict]]]:
    """The run's header (eval, plan, results) and its sample records, each with a label for errors."""
    if file.suffix == ".eval":
        zf = zipfile.ZipFile(file)
        names = zf.namelist()
        if "header.json" in names:
            header = _member(zf, "header.json", file)
        elif "_journal/start.json" in names:
            header = _member(zf, "_journal/start.json", file)
        else:
            raise fail(file, "neither header.json nor _journal/start.json in the archive")
        samples = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))

        def records() -> Iterator[tuple[str, dict]]:
            with zf:
                for n in samples:
                    yield n, _member(zf, n, file)
        return header, records()
    try:
        doc = json.loads(file.read_text())
    except ValueError as exc:
        raise fail(file, f"not valid JSON ({exc})") from exc
    samples = doc.get("samples") or []
    return doc, ((f"samples[{i}]", s) for i, s in enumerate(samples))


def _correct(value: Any, file: Path, rec: str, field: str) -> bool:
    """A score value as pass/fail, as Inspect's ``value_to_float`` reads it (C/yes/true/1 correct, I/N/no/false/0
    not); anything else (partial credit, other numbers, dicts, lists) is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value if value in ("C", "I", "N") else value.lower()
        if v in ("C", "yes", "true"):
            return True
        if v in ("I", "N", "no", "false"):
            return False
    elif isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise fail(file, f"score value {value!r} is neither correct nor incorrect (C/I/N, true/false, 1/0); partial "
                     "or multi-valued scores have no place in a pass/fail table: pass scorer= or grade=", rec, field)


def _logged_temperature(header: dict) -> float | None:
    """The generation temperature the run logged (its model config, else its plan's), or None."""
    ev = header.get("eval") or {}
    for cfg in (ev.get("model_generate_config") or {}, (header.get("plan") or {}).get("config") or {}):
        if cfg.get("temperature") is not None:
            return float(cfg["temperature"])
    return None


def _scorer_verdict(s: dict, scorer: str | None, used: set, file: Path, rec: str) -> tuple[str | None, bool]:
    """(answer, correct) from the sample's scorer (the only one, or ``scorer``); ``used`` collects its name."""
    scores = s.get("scores") or {}
    if not scores:
        raise fail(file, "the sample was not scored; pass grade=", rec, "scores")
    name = scorer or (next(iter(scores)) if len(scores) == 1 else None)
    if name is None:
        raise fail(file, f"several scorers {sorted(scores)}; name one with scorer=", rec, "scores")
    if name not in scores:
        raise fail(file, f"no scorer {name!r} (have {sorted(scores)})", rec, "scores")
    sc = scores[name]
    used.add(name)
    correct = _correct(sc.get("value"), file, rec, f"scores.{name}.value")
    ans = sc.get("answer")
    answer = None if ans is None or not str(ans).strip() else str(ans)
    if correct and answer is None:
        raise fail(file, "scored correct but no answer was recorded (majority voting needs answers); pass "
                         "grade= to extract answers from the completion", rec, f"scores.{name}.answer")
    return answer, correct


def _in_dataset_order(df: pd.DataFrame, ev: dict) -> pd.DataFrame:
    """Rows in the dataset's order, epoch by epoch within a sample (.eval archives list members by name,
    .json logs epoch by epoch)."""
    ids = [str(i) for i in (ev.get("dataset") or {}).get("sample_ids") or []]
    position = {i: n for n, i in enumerate(dict.fromkeys(ids + df["problem_id"].tolist()))}
    df = df.iloc[np.lexsort((df["sample_id"].to_numpy(), df["problem_id"].map(position).to_numpy()))]
    return df.reset_index(drop=True)


def _sample_row(s: dict, file: Path, rec: str, task: str, grading, scorer: str | None, used: set,
                logged_tokens: bool, difficulty: str | None) -> tuple[dict, str]:
    """One sample's row (problem, epoch, answer, correct, logged token counts, difficulty) and its text."""
    if s.get("error"):
        raise fail(file, f"the sample failed ({str(s['error'].get('message', s['error']))[:200]}); "
                         "rerun it (inspect eval-retry) before reading", rec, "error")
    for key in ("id", "epoch", "output"):
        if key not in s:
            raise fail(file, "missing", rec, key)
    out = s["output"] or {}
    text = out.get("completion")
    if not isinstance(text, str):
        raise fail(file, "no completion text", rec, "output.completion")
    target = s.get("target")
    if isinstance(target, list):
        target = target[0] if len(target) == 1 else None
    row = {"problem_id": str(s["id"]), "sample_id": int(s["epoch"]) - 1, "_rec": rec}
    if grading is not None:
        if not isinstance(target, str):
            raise fail(file, "grading needs one reference answer", rec, "target")
        row["answer"], row["correct"] = grading(task, text, target)
    else:
        row["answer"], row["correct"] = _scorer_verdict(s, scorer, used, file, rec)
    if logged_tokens:
        usage = out.get("usage") or {}
        if usage.get("output_tokens") is None:
            raise no_tokens(file, f"{rec}: no output.usage.output_tokens")
        row["gen_tokens"] = usage["output_tokens"]
        row["prompt_tokens"] = usage.get("input_tokens")
    if difficulty is not None:
        meta = s.get("metadata") or {}
        if difficulty not in meta:
            raise fail(file, f"missing (metadata has {sorted(meta)})", rec, f"metadata.{difficulty}")
        row["difficulty"] = str(meta[difficulty])
    return row, text


def read_inspect(path: str | os.PathLike, *, task: str | None = None, model: str | None = None,
                 params: float | dict | None = None, tokenizer: TokenizerArg = None,
                 grade: Grader | str | None = None, scorer: str | None = None, difficulty: str | None = None,
                 temperature: float | None = None) -> pd.DataFrame:
    """Read one Inspect eval log (``.eval`` or ``.json``) into a validated sample table.

    Parameters
    ----------
    path : the log file.
    task, model : names in the table (default: the log's task; the last part of ``model_args.model_path`` when
        the model was loaded from a local folder, else the log's model name).
    params : parameter count (default: the safetensors of a local ``model_path``; refused otherwise).
    tokenizer : count tokens instead of reading ``output.usage``.
    grade : grade ``output.completion`` against ``target`` with ``grade(task, text, reference)`` instead of
        the scorer's verdict.
    scorer : the scorer whose verdict to use when the log has several.
    difficulty : field of the sample ``metadata`` that holds a difficulty label.
    temperature : overrides the logged generation temperature.
    """
    file = Path(path)
    header, records = _log(file)
    ev = header.get("eval") or {}
    if not ev:
        raise fail(file, "no 'eval' section: not an Inspect log")
    if header.get("status") not in (None, "success"):
        raise fail(file, f"the run's status is {header.get('status')!r}, not 'success'; its samples may be "
                         "incomplete (read it anyway by rerunning or retrying the eval to completion)")
    margs = ev.get("model_args") or {}
    model_path = margs.get("model_path") if isinstance(margs.get("model_path"), str) else None
    folder = local_folder(model_path)
    task = task or ev.get("task")
    model = model or (Path(model_path.rstrip("/")).name if model_path else ev.get("model"))
    n_params, params_source = resolve_params(file, params, model, folder=folder)
    if temperature is None:
        temperature = _logged_temperature(header)
    grading = as_grading(grade)
    counter = counter_for(tokenizer, model, None) if tokenizer is not None else None

    rows: list[dict] = []
    texts: list[str] = []
    used: set[str] = set()
    for rec, s in records:
        row, text = _sample_row(s, file, rec, task, grading, scorer, used, counter is None, difficulty)
        rows.append(row)
        if counter is not None:
            texts.append(text)
    if not rows:
        raise fail(file, "holds no samples (was it run with log_samples=False?)")
    df = pd.DataFrame.from_records(rows)
    if counter is not None:
        df["gen_tokens"] = counter(texts)
        token_count = counter.name + " (completion text)"
    else:
        token_count = "inspect output.usage"
    df = _in_dataset_order(df, ev)
    df = df.assign(task=task, model=model, params=n_params, method=method_of(temperature), temperature=temperature,
                   grader=grading.name if grading is not None else f"inspect scorer {', '.join(sorted(used))}",
                   token_count=token_count, params_source=params_source)
    df["_row"] = df.pop("_rec")
    return finish(df, file).drop(columns="_row")

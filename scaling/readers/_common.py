"""What every tool reader shares: where an error is, the grader, the token counter, the parameter count.

A reader turns one evaluation tool's output into the sample-table contract (:mod:`scaling.schema`).  The
tools store different things, so each reader fills what its files carry and takes the rest from the
caller; what it can find nowhere it refuses with a :class:`~scaling.schema.SchemaError` that names the
file, the record and the field, and says which argument supplies it.  Nothing here imports ``collect``,
torch or vllm: a grader is any function ``grade(task, text, reference)``, for example
``collect.grading.grade``, passed in by the caller.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..schema import SchemaError, validate

#: A grader: ``grade(task, response_text, reference) -> (answer, correct)``, or an object with ``answer`` and
#: ``correct`` attributes (what ``collect.grading.grade`` returns).  ``answer`` is None when none was found.
Grader = Callable[[str, str, str], Any]
#: A tokenizer argument: a callable ``text -> int``, a ``tokenizer.json`` file or a folder holding one
#: (read with the ``tokenizers`` library), any object with ``encode(text)`` (a ``tokenizers.Tokenizer`` or a
#: transformers tokenizer), or a mapping from model name to one of these.
TokenizerArg = Any

#: Columns every reader adds beside the contract: how ``answer``/``correct``, the token counts and ``params``
#: were obtained (constant within a file).
PROVENANCE = ("grader", "token_count", "params_source")


def where(file: str | os.PathLike, record: object = None, field: str | None = None) -> str:
    """``file: record R: field F:`` -- the prefix of every reader error."""
    out = f"{file}:"
    if record is not None:
        out += f" record {record}:"
    if field is not None:
        out += f" field {field!r}:"
    return out


def fail(file: str | os.PathLike, message: str, record: object = None, field: str | None = None) -> SchemaError:
    return SchemaError(f"{where(file, record, field)} {message}")


def iter_jsonl(file: str | os.PathLike):
    """(line number, object) for every non-blank line of a JSON-lines file; a line that is not valid JSON
    or not a JSON object is an error naming the file and line."""
    with open(file) as fh:
        for no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise fail(file, f"not valid JSON ({exc})", f"line {no}") from exc
            if not isinstance(obj, dict):
                raise fail(file, f"expected a JSON object, got {type(obj).__name__}", f"line {no}")
            yield no, obj


def require(file: str | os.PathLike, tool: str, **values: object) -> None:
    """Refuse when a value the tool's files do not record was not given: ``<tool> do not record task,
    params; pass task=, params=``."""
    missing = [name for name, v in values.items() if v is None]
    if missing:
        raise fail(file, f"{tool} do not record {', '.join(missing)}; pass " + ", ".join(f"{m}=" for m in missing))


def first_json_line(path: Path) -> dict | None:
    """The first line of a JSON-lines file as a dict (None when it is not one): the cheap look that tells
    formats apart."""
    try:
        with open(path) as fh:
            first = json.loads(fh.readline() or "null")
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return first if isinstance(first, dict) else None


# --------------------------------------------------------------------------------------------------
# grading
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grading:
    """A grader with its name (written to the ``grader`` column)."""

    fn: Callable[[str, str, str], tuple[str | None, bool]]
    name: str

    def __call__(self, task: str, text: str, reference: str) -> tuple[str | None, bool]:
        return self.fn(task, text, reference)


def _unpack(result: Any) -> tuple[str | None, bool]:
    if hasattr(result, "answer") and hasattr(result, "correct"):
        answer, correct = result.answer, result.correct
    else:
        answer, correct = result
    if answer is not None and not isinstance(answer, str):
        answer = str(answer)
    if isinstance(answer, str) and not answer.strip():
        answer = None
    return answer, bool(correct) and answer is not None


def load_grader(spec: str) -> Callable:
    """The function a ``MODULE:FUNCTION`` string names (``collect`` is short for ``collect.grading:grade``).

    Imported only because the caller named it: :mod:`scaling` itself never imports ``collect``."""
    if spec == "collect":
        spec = "collect.grading:grade"
    mod, sep, attr = spec.partition(":")
    if not sep or not mod or not attr:
        raise ValueError(f"grader {spec!r}: expected MODULE:FUNCTION, e.g. collect.grading:grade")
    try:
        fn = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"grader {spec!r}: cannot be imported ({exc})") from exc
    if not callable(fn):
        raise ValueError(f"grader {spec!r}: {type(fn).__name__} is not callable")
    return fn


def as_grading(grade: Grader | str | None, file: str | os.PathLike | None = None, missing: str = "") -> Grading | None:
    """``grade`` as a :class:`Grading`; a string is imported with :func:`load_grader`.  None stays None, or,
    given ``file``, is refused with ``missing`` (what the tool does not store) and how to pass a grader."""
    if grade is None and file is not None:
        raise fail(file, f"{missing}; pass grade= (a function grade(task, text, reference), e.g. "
                         "collect.grading.grade; python -m scaling.fit --grade collect)")
    if grade is None or isinstance(grade, Grading):
        return grade
    if isinstance(grade, str):
        name = "collect.grading:grade" if grade == "collect" else grade
        grade = load_grader(grade)
    elif callable(grade):
        name = f"{getattr(grade, '__module__', None) or '?'}:{getattr(grade, '__qualname__', type(grade).__name__)}"
    else:
        raise TypeError(f"grade must be a function grade(task, text, reference) or 'MODULE:FUNCTION', got {grade!r}")
    fn = grade
    return Grading(lambda task, text, ref: _unpack(fn(task, text, ref)), name)


# --------------------------------------------------------------------------------------------------
# token counts
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counter:
    """Counts tokens of many texts at once; ``name`` goes to the ``token_count`` column."""

    fn: Callable[[list[str]], np.ndarray]
    name: str

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.fn(list(texts))


def _from_encoder(enc: Any, name: str) -> Counter:
    batch = getattr(enc, "encode_batch", None)
    if batch is not None:                       # tokenizers.Tokenizer: counts without its padding / truncation
        if getattr(enc, "padding", None) is not None or getattr(enc, "truncation", None) is not None:
            from tokenizers import Tokenizer

            enc = Tokenizer.from_str(enc.to_str())
            enc.no_padding()
            enc.no_truncation()
            batch = enc.encode_batch
        def count(texts: list[str]) -> np.ndarray:
            return np.array([len(e.ids) for e in batch(texts, add_special_tokens=False)], dtype=np.int64)
    else:                                       # a transformers tokenizer
        def count(texts: list[str]) -> np.ndarray:
            return np.array([len(enc.encode(t, add_special_tokens=False)) for t in texts], dtype=np.int64)
    return Counter(count, name)


def token_counter(tokenizer: TokenizerArg, model: str | None = None) -> Counter | None:
    """A :class:`Counter` from a tokenizer argument (see :data:`TokenizerArg`); None stays None."""
    if tokenizer is None:
        return None
    if isinstance(tokenizer, Counter):
        return tokenizer
    if isinstance(tokenizer, Mapping):
        if model not in tokenizer:
            raise SchemaError(f"tokenizer: no entry for model {model!r} (have {sorted(tokenizer)})")
        return token_counter(tokenizer[model], model)
    if isinstance(tokenizer, (str, os.PathLike)):
        return _tokenizer_file(Path(tokenizer))
    if hasattr(tokenizer, "encode"):
        return _from_encoder(tokenizer, f"tokenizer {type(tokenizer).__name__}")
    if callable(tokenizer):
        fn = tokenizer
        name = getattr(fn, "__qualname__", type(fn).__name__)
        return Counter(lambda texts: np.array([int(fn(t)) for t in texts], dtype=np.int64), f"function {name}")
    raise TypeError(f"tokenizer must be a tokenizer.json path or folder, a tokenizer, or a function text -> int; "
                    f"got {tokenizer!r}")


_TOKENIZERS: dict[Path, Counter] = {}


def _tokenizer_file(path: Path) -> Counter:
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise SchemaError(f"tokenizer {path}: no tokenizer.json there (pass a tokenizer.json file, a folder "
                          "holding one, or a function text -> int)")
    key = file.resolve()
    if key not in _TOKENIZERS:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise SchemaError(f"tokenizer {file}: reading it needs the 'tokenizers' package "
                              "(pip install tokenizers, or pip install -e '.[readers]')") from exc
        _TOKENIZERS[key] = _from_encoder(Tokenizer.from_file(str(file)), f"tokenizer {path}")
    return _TOKENIZERS[key]


def local_folder(path: object) -> Path | None:
    """``path`` when it names an existing local folder (a model a tool loaded from disk), else None."""
    if not isinstance(path, str) or not path:
        return None
    p = Path(path).expanduser()
    return p if p.is_dir() else None


def counter_for(tokenizer: TokenizerArg, model: str, folder: Path | None) -> Counter | None:
    """The caller's tokenizer, else the tokenizer.json of the local model folder the tool ran (if any)."""
    if tokenizer is not None:
        return token_counter(tokenizer, model)
    if folder is not None and (folder / "tokenizer.json").is_file():
        return _tokenizer_file(folder)
    return None


def no_tokens(file: str | os.PathLike, what: str) -> SchemaError:
    return fail(file, f"{what}; pass tokenizer= (a tokenizer.json file or folder, a tokenizer, or a function "
                      "text -> int; python -m scaling.fit --tokenizer PATH) to count them")


# --------------------------------------------------------------------------------------------------
# parameter counts
# --------------------------------------------------------------------------------------------------

def safetensors_params(folder: Path) -> int | None:
    """Parameters stored in the ``*.safetensors`` files of a model folder (from their headers: the product of
    each tensor's shape, summed); None when there are none."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        total += sum(int(np.prod(t["shape"], dtype=np.int64)) for k, t in header.items() if k != "__metadata__")
    return total


def resolve_params(file: str | os.PathLike, params: float | Mapping[str, float] | None, model: str,
                   logged: float | None = None, logged_name: str = "", folder: Path | None = None
                   ) -> tuple[float, str]:
    """The policy's parameter count and where it came from: the caller's ``params`` (a number, or a mapping
    from model name), else the count the tool logged, else the local model folder's safetensors; refused
    when none is known."""
    if isinstance(params, Mapping):
        if model not in params:
            raise fail(file, f"params: no entry for model {model!r} (have {sorted(params)})")
        return float(params[model]), "given"
    if params is not None:
        return float(params), "given"
    if logged is not None:
        return float(logged), logged_name
    if folder is not None:
        n = safetensors_params(folder)
        if n:
            return float(n), f"safetensors in {folder}"
    raise fail(file, f"the log does not record the parameter count of model {model!r}; pass params=N (or a "
                     "mapping model -> N; python -m scaling.fit --params N)")


# --------------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------------

def finish(records: list[dict] | pd.DataFrame, file: str | os.PathLike) -> pd.DataFrame:
    """The rows a reader built, validated against the contract (errors name ``file``)."""
    df = records if isinstance(records, pd.DataFrame) else pd.DataFrame.from_records(records)
    if len(df) == 0:
        raise fail(file, "holds no solutions")
    return validate(df, source=str(file))


def method_of(temperature: float | None) -> str:
    """``greedy`` at temperature 0, else ``sample``."""
    return "greedy" if temperature is not None and float(temperature) == 0.0 else "sample"


def field_of(file: str | os.PathLike, record: object, obj: Mapping, name: str, where_name: str = "") -> Any:
    """``obj[name]``, or an error naming the file, record and field."""
    if not isinstance(obj, Mapping) or name not in obj:
        have = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
        raise fail(file, f"missing (have {have})", record, f"{where_name}{name}")
    return obj[name]

"""Reading, writing and converting sample tables.

>>> import scaling
>>> samples = scaling.read_samples("data/samples/arith-sub100")
>>> samples.groupby(["model", "method"]).size().tolist()
[94865, 24496, 25600, 95079, 24028, 25600]
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import COLUMNS, SchemaError, concat_validated, validate

TABLE_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz")
#: Folders inside a data directory that never hold sample tables (task files, solution texts, search
#: trees, model weights, example tool logs); :func:`read_samples` does not descend into them.
SKIP_DIRS = frozenset({"tasks", "texts", "trees", "models", "tool-logs"})
#: What :func:`sample_files` calls a sample table (the other kinds are the tool formats of
#: :data:`scaling.readers.FORMATS`).
TABLE = "table"


def _walk(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``path`` ending in ``suffixes``, sorted; hidden folders and :data:`SKIP_DIRS` skipped."""
    files = []
    for p in sorted(path.rglob("*")):
        parts = p.relative_to(path).parts
        if any(part.startswith(".") for part in parts) or any(part in SKIP_DIRS for part in parts[:-1]):
            continue
        if p.is_file() and p.name.endswith(suffixes):
            files.append(p)
    return files


def table_files(path: str | os.PathLike) -> list[Path]:
    """The table files (``.parquet``, ``.jsonl``) under ``path`` (itself, if it is a file)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise SchemaError(f"{path}: no such file or directory")
    return _walk(path, TABLE_SUFFIXES)


def sample_files(path: str | os.PathLike, format: str | None = None) -> list[tuple[Path, str]]:
    """The files :func:`read_samples` reads under ``path`` (itself, if it is a file), each with its kind:
    ``"table"`` or a tool format of :data:`scaling.readers.FORMATS` (recognised by name and content, or
    the one ``format`` names).  A ``.jsonl`` file that is neither is listed as a table (so that reading it
    says what is missing); other files that no reader recognises are left out."""
    from .readers import FORMATS, SIDECAR, TOOL_SUFFIXES, detect

    if format not in (None, "auto", TABLE) and format not in FORMATS:
        raise SchemaError(f"format {format!r}: expected 'auto', {TABLE!r} or one of {sorted(FORMATS)}")
    auto = format in (None, "auto")
    path = Path(path)
    if path.is_file() and not auto:
        return [(path, format)]
    if path.is_file():
        files = [path]
    elif path.exists():
        files = _walk(path, tuple(dict.fromkeys(TABLE_SUFFIXES + TOOL_SUFFIXES)))
    else:
        raise SchemaError(f"{path}: no such file or directory")
    out = []
    for f in files:
        table = f.name.endswith(".parquet") or f.name.endswith(TABLE_SUFFIXES) and is_sample_table(f)
        kind = TABLE if table else detect(f)
        if kind is None and f.name.endswith(TABLE_SUFFIXES):
            kind = TABLE
        if kind is None and f == path:
            raise SchemaError(f"{f}: not a sample table ({', '.join(TABLE_SUFFIXES)}) and not a file of a known tool "
                              f"({', '.join(FORMATS)}); pass format= to name it")
        if kind in (None, SIDECAR) or not auto and kind != format:
            continue
        out.append((f, kind))
    return out


def _read_one(path: Path) -> pd.DataFrame:
    name = path.name
    try:
        if name.endswith(".parquet"):
            df = pd.read_parquet(path)
        elif name.endswith((".jsonl", ".jsonl.gz")):
            df = pd.read_json(path, lines=True, dtype=False)
        else:
            raise SchemaError(f"{path}: unknown table format; expected {', '.join(TABLE_SUFFIXES)}")
    except SchemaError:
        raise
    except (ValueError, OSError) as exc:  # pyarrow/json errors are ValueError/OSError subclasses
        raise SchemaError(f"{path}: cannot be read as a table ({exc})") from exc
    return df


def is_sample_table(path: str | os.PathLike) -> bool:
    """True when ``path`` holds the sample-table contract columns (cheap check of the header)."""
    from .schema import CONTRACT

    path = Path(path)
    try:
        if path.name.endswith(".parquet"):
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
        else:
            with open(path) as fh:
                first = fh.readline()
            names = set(json.loads(first)) if first.strip() else set()
    except (OSError, ValueError):
        return False
    return set(CONTRACT) <= names


def read_samples(path: str | os.PathLike | Iterable[str | os.PathLike], *, strict: bool = True,
                 format: str | None = None, **options) -> pd.DataFrame:
    """Read sample tables and evaluation tools' files -- one file, every file in a directory tree, or a list
    of such paths -- into one validated DataFrame.

    Parameters
    ----------
    path
        A ``.parquet`` / ``.jsonl`` table, a tool's file (lm-evaluation-harness ``samples_*.jsonl``, Inspect
        ``.eval`` / ``.json``, search-and-learn ``*_completions.jsonl``, Large Language Monkeys ``.yaml``), a
        directory (searched recursively; hidden folders and the folders named in :data:`SKIP_DIRS` --
        ``tasks``, ``texts``, ``trees``, ``models``, ``tool-logs`` -- are not searched), or a list of such paths.
    strict
        When reading a directory, a ``.jsonl`` file that is neither a sample table nor a tool's file is an
        error (default) or, with ``strict=False``, skipped.
    format
        ``"auto"`` (default: recognise each file), ``"table"``, or a tool format (``lm-eval``, ``inspect``,
        ``search-and-learn``, ``monkeys``): read only files of that kind (a single file is read as that kind).
    **options
        Passed to the tool readers that take them (:mod:`scaling.readers`): ``task``, ``model``, ``params``,
        ``tokenizer``, ``grade`` (e.g. ``collect.grading.grade``), ``temperature``, ``difficulty`` ...

    Returns
    -------
    DataFrame with the columns of :data:`scaling.schema.COLUMNS` (plus any extra columns), typed.

    Raises
    ------
    SchemaError
        naming the file, the column (or record and field) and the first bad row (see
        :func:`scaling.schema.validate`).
    """
    from .readers import ALL_OPTIONS, read_tool

    unknown = sorted(set(options) - ALL_OPTIONS)
    if unknown:
        raise TypeError(f"read_samples() got unexpected option(s) {unknown}; the tool readers take {sorted(ALL_OPTIONS)}")
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    frames = []
    tools_read = False
    for root in paths:
        listed = sample_files(root, format)
        if root.is_dir() and not strict:
            listed = [(f, k) for f, k in listed if k != TABLE or is_sample_table(f)]
        if not listed:
            raise SchemaError(f"{root}: no sample tables found (expected {', '.join(TABLE_SUFFIXES)} files "
                              "with the contract columns, or files of lm-eval, Inspect, search-and-learn or Large "
                              "Language Monkeys)")
        by_kind: dict[str, list[Path]] = {}
        for f, kind in listed:
            by_kind.setdefault(kind, []).append(f)
        for kind, files in by_kind.items():
            if kind == TABLE:
                read = [(str(f), validate(_read_one(f), source=str(f))) for f in files]
            else:
                read = read_tool(files, kind, **options)
                tools_read = True
            for source, table in read:
                table["_file"] = source
                frames.append(table)
    if options and not tools_read:
        raise SchemaError(f"options {sorted(options)} apply to evaluation tools' files, but {', '.join(map(str, paths))} "
                          "holds only sample tables")
    if len(frames) == 1:
        return frames[0].drop(columns=["_file"])
    for frame, start in zip(frames, np.cumsum([0] + [len(f) for f in frames[:-1]]), strict=True):
        frame["_row"] = np.arange(start, start + len(frame))
    df = concat_validated(frames, source=", ".join(str(p) for p in paths))
    return df.drop(columns=["_row", "_file"])


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; when the block succeeds the file replaces ``path``
    in one rename, when it fails the temporary file is removed.  Readers see the old or the new file,
    never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; the file gets the mode open() would give it
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_samples(df: pd.DataFrame, path: str | os.PathLike, *, validate_first: bool = True) -> Path:
    """Write a sample table atomically (temporary file + rename), as Parquet or JSONL by suffix.

    A reader never sees a half-written file: the table appears whole or not at all.  Parquet is written
    with zstd compression and dictionary encoding for the text columns only (float columns such as
    ``step_rewards`` compress better plain): about 17 % smaller than pyarrow's defaults, same values.
    """
    path = Path(path)
    if validate_first:
        df = validate(df, source=str(path))
    out = df.copy()
    if "step_rewards" in out:
        out["step_rewards"] = out["step_rewards"].map(lambda v: None if v is None else list(map(float, v)))
    with atomic_path(path) as tmp:
        if path.name.endswith(".parquet"):
            text = [c for c in out.columns if c != "step_rewards" and (out[c].dtype == object
                                                                        or isinstance(out[c].dtype, pd.StringDtype))]
            out.to_parquet(tmp, index=False, compression="zstd", compression_level=9, use_dictionary=text)
        else:
            out.to_json(tmp, orient="records", lines=True)
    return path


_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_token_count(text: str) -> int:
    """Approximate BPE token count: words and punctuation marks, a word of more than 4 characters
    counting one token per 4 characters (a rule of thumb, not calibrated against a tokenizer here); used
    only when no tokenizer is available, and recorded in ``token_count`` ("approx")."""
    return int(sum(max(1, -(-len(t) // 4)) for t in _TOKEN_RE.findall(text)))


def _reward_function(reward_transform: str | Callable[[float], float] | None) -> Callable[[float], float]:
    """The map from a logged reward to the table's: identity, the logistic sigmoid, or the caller's."""
    if reward_transform == "sigmoid":
        return lambda v: float(1.0 / (1.0 + np.exp(-v)))
    if reward_transform is None:
        return float
    if callable(reward_transform):
        return reward_transform
    raise ValueError(f"reward_transform must be None, 'sigmoid' or a callable, got {reward_transform!r}")


def _check_problem_line(obj: dict, where: str, list_fields: tuple[str, ...], rewards: str | None) -> None:
    """A problem line holds its list fields (and the reward list) with equal lengths; else a named error."""
    for name in list_fields:
        if not isinstance(obj.get(name), list):
            raise SchemaError(f"{where}: field {name!r} must be a list, got {type(obj.get(name)).__name__}")
    lens = {f: len(obj[f]) for f in list_fields + ((rewards,) if rewards else ()) if isinstance(obj.get(f), list)}
    if rewards and not isinstance(obj.get(rewards), list):
        raise SchemaError(f"{where}: field {rewards!r} must be a list")
    if len(set(lens.values())) != 1:
        raise SchemaError(f"{where}: list fields differ in length {lens}")


def _reward_fields(r, transform: Callable[[float], float]) -> dict:
    """``reward`` (and ``step_rewards`` for a list of step scores, its last one the reward) of one solution."""
    if isinstance(r, list):
        flat = [transform(x[0] if isinstance(x, list) else x) for x in r]
        return {"step_rewards": flat if len(flat) > 1 else None, "reward": flat[-1] if flat else None}
    return {} if r is None else {"reward": transform(r)}


def from_list_jsonl(
    path: str | os.PathLike,
    *,
    task: str,
    model: str,
    params: float,
    problem_id: str | Callable[[dict], str] = "idx",
    solutions: str = "code",
    answers: str = "pred",
    correct: str = "score",
    rewards: str | None = "pred_score",
    difficulty: str | None = "level",
    reward_model: str | None = None,
    reward_params: float | None = None,
    count_tokens: Callable[[str], int] | None = None,
    temperature: float | None = None,
    method: str = "sample",
    reward_transform: str | Callable[[float], float] | None = None,
) -> pd.DataFrame:
    """Convert a list-per-problem JSONL (one line per problem holding lists of solutions, extracted
    answers, correctness and rewards, as in Qwen2.5-Math's evaluation output) into a sample table.

    Rewards may be per-solution scalars or per-solution lists of step scores: a list becomes
    ``step_rewards`` and its last element ``reward``.  ``reward_transform="sigmoid"`` maps reward-model
    logits to (0, 1) scores (weighted voting needs non-negative rewards).  Token counts come from ``count_tokens(text)``;
    without one, :func:`approx_token_count` is used and the table's ``token_count`` column says
    ``"approx"``.  Every problem line must hold lists of equal length; otherwise the error names the line.

    Not run as a docstring test (the Qwen2.5-Math output file is not shipped; tests/test_samples.py
    converts a small one):

    >>> df = from_list_jsonl("qwen25_math_cot_100.jsonl", task="math", model="Qwen2.5-Math-7B-Instruct",
    ...                      params=7.62e9)                                   # doctest: +SKIP
    """
    path = Path(path)
    counter = count_tokens or approx_token_count
    transform = _reward_function(reward_transform)
    reward_meta = {"reward_model": reward_model, "reward_params": reward_params,
                   "reward_transform": reward_transform if isinstance(reward_transform, str) else None}
    records = []
    with open(path) as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{where}: not valid JSON ({exc})") from exc
            _check_problem_line(obj, where, (solutions, answers, correct), rewards)
            pid = problem_id(obj) if callable(problem_id) else obj.get(problem_id)
            if pid is None:
                raise SchemaError(f"{where}: no problem id in field {problem_id!r}")
            for i, text in enumerate(obj[solutions]):
                ans = obj[answers][i]
                ans = None if ans is None or (isinstance(ans, str) and not ans.strip()) else str(ans).strip()
                rec = {"task": task, "problem_id": str(pid), "model": model, "params": float(params),
                       "method": method, "sample_id": i, "answer": ans,
                       "correct": bool(obj[correct][i]) and ans is not None,
                       "gen_tokens": int(counter(text if isinstance(text, str) else "")),
                       "token_count": "tokenizer" if count_tokens else "approx", "temperature": temperature}
                if difficulty and obj.get(difficulty) is not None:
                    rec["difficulty"] = str(obj[difficulty])
                if rewards:
                    rec.update(_reward_fields(obj[rewards][i], transform), **reward_meta)
                records.append(rec)
    if not records:
        raise SchemaError(f"{path}: no problems found")
    df = pd.DataFrame.from_records(records)
    return validate(df, source=str(path))


__all__ = ["read_samples", "write_samples", "atomic_path", "table_files", "sample_files", "from_list_jsonl",
           "approx_token_count", "is_sample_table", "COLUMNS"]

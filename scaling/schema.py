"""The sample table: one row per finished solution -- the contract between ``collect`` and ``scaling``.

This module holds the column contract shared by the collection side (``collect``) and the analysis
side (``scaling``), and the validation that turns a raw table into a trusted one.  It is the one place
the contract is written down; every :class:`SchemaError` points here (``help(scaling.schema)``).

Columns (``*``: the contract, required in every table; the others are optional and filled with nulls)

================  =====================  ===========================================================
column            type                   meaning
================  =====================  ===========================================================
``task`` *        str                    benchmark, e.g. ``gsm8k``, ``math500``
``problem_id`` *  str                    unique within the task
``model`` *       str                    policy model name
``params`` *      float > 0              policy parameter count N used for compute accounting
``method`` *      str                    ``sample`` (i.i.d. sampling), ``greedy``, ``rebase``, ``mcts``
``sample_id`` *   int >= 0               index of the solution within (task, problem, model, method, run)
``answer`` *      str or null            canonical final answer; null when none could be extracted
``correct`` *     bool                   graded against the reference answer (never true for a null answer)
``gen_tokens`` *  int >= 0               tokens generated for this solution
``prompt_tokens`` int or null            prompt length in tokens
``logprob``       float or null          sum of the solution's token log-probabilities
``reward``        float or null          solution-level verifier score (outcome RM, or aggregated process RM)
``step_rewards``  list of float or null  process-RM score after each step
``reward_model``  str or null            verifier name
``reward_params`` float or null          verifier parameter count (for its compute)
``run_id``        str                    tree search: the search run (required on rebase/mcts rows)
``budget``        int                    tree search: the run's width n (required on rebase/mcts rows)
``run_gen_tokens`` int                   tree search: every token the run generated, pruned branches included
``temperature``   float or null          sampling temperature
``difficulty``    str or null            difficulty label such as the MATH level
================  =====================  ===========================================================

Rules checked by :func:`validate`: the types above; no duplicate key (task, problem_id, model, method,
run_id, sample_id); one ``params`` value per model; non-negative token counts.  Parquet is the storage
format; JSONL with the same columns is accepted on input.  Extra columns are kept.

Bad input raises :class:`SchemaError`, whose message names the file, the column, what was expected
and one offending row, so a user can find and fix the problem without reading this code.

>>> import pandas as pd
>>> row = dict(task="t", problem_id="p1", model="m", params=1e9, method="sample", sample_id=0,
...            answer="4", correct=True, gen_tokens=12)
>>> validate(pd.DataFrame([row]))[["problem_id", "correct", "reward"]].to_dict("records")
[{'problem_id': 'p1', 'correct': True, 'reward': nan}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import pandas as pd

SCHEMA_VERSION = 1

#: Contract columns and their logical type.
CONTRACT: dict[str, str] = {
    "task": "str",
    "problem_id": "str",
    "model": "str",
    "params": "float",
    "method": "str",
    "sample_id": "int",
    "answer": "str?",
    "correct": "bool",
    "gen_tokens": "int",
}

#: Optional columns and their logical type ("?" means nullable).
OPTIONAL: dict[str, str] = {
    "prompt_tokens": "int?",
    "logprob": "float?",
    "reward": "float?",
    "step_rewards": "list?",
    "reward_model": "str?",
    "reward_params": "float?",
    "run_id": "str?",
    "budget": "int?",
    "run_gen_tokens": "int?",
    "temperature": "float?",
    "difficulty": "str?",
}

COLUMNS: dict[str, str] = {**CONTRACT, **OPTIONAL}

#: Methods whose rows are i.i.d. samples (subset estimators apply) or tree-search runs.
SAMPLING_METHODS = ("sample",)
GREEDY_METHODS = ("greedy",)
TREE_METHODS = ("rebase", "mcts")
KNOWN_METHODS = SAMPLING_METHODS + GREEDY_METHODS + TREE_METHODS

#: A row is identified by these columns.
KEY = ["task", "problem_id", "model", "method", "run_id", "sample_id"]

#: The strategy codes (greedy, majority, weighted_majority, best_of_n, pass_at_k) and their traits (which
#: need a ``reward`` on every row, which are oracles) are the registry's: :mod:`scaling.registry`.

#: Where the contract is written (quoted by every error about a table's shape).
CONTRACT_DOC = "the sample-table contract: help(scaling.schema)"
#: ``DataFrame.attrs`` key set by :func:`validate`; row subsets and added columns keep it.
VALIDATED = "scaling.schema"


class SchemaError(ValueError):
    """A sample table does not follow the contract.  The message names file, column and a row."""


@dataclass(frozen=True)
class _Where:
    source: str

    def error(self, column: str | None, expected: str, frame: pd.DataFrame | None = None,
              mask: np.ndarray | pd.Series | None = None) -> SchemaError:
        parts = [f"{self.source}:"]
        if column is not None:
            parts.append(f"column {column!r}:")
        parts.append(expected)
        if frame is not None and mask is not None:
            mask = np.asarray(mask, dtype=bool)
            n_bad = int(mask.sum())
            if n_bad:
                idx = int(np.flatnonzero(mask)[0])
                row = frame.iloc[idx]
                shown = {c: row[c] for c in frame.columns if c in CONTRACT or c == column}
                row_no = row.get("_row", idx)
                file = row.get("_file", None)
                where = f" (file {file})" if isinstance(file, str) and file != self.source else ""
                parts.append(f"; {n_bad} bad row(s), first is row {row_no}{where}: {shown}")
        return SchemaError(" ".join(parts))


def _is_null(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy()


def _as_strings(s: pd.Series, where: _Where, df: pd.DataFrame, col: str) -> pd.Series:
    """A column that is not all strings: integers become their decimal strings; anything else is an error."""
    ok = s.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v))
               or isinstance(v, (str, int, np.integer)) and not isinstance(v, (bool, np.bool_)))
    if not ok.all():
        raise where.error(col, "expected a string", df, ~ok.to_numpy())
    return s.map(lambda v: v if isinstance(v, str) or v is None else (None if isinstance(v, float) else str(v)))


def _coerce_str(df: pd.DataFrame, col: str, nullable: bool, where: _Where) -> None:
    """Strings as an object column (None for null).  The column is factorised once: the checks look at
    its distinct values only, and equal strings become one shared object (a table's ``task``, ``model``,
    ``problem_id`` ... take a pointer per row, not a string per row)."""
    s = df[col]
    if not nullable:
        null = _is_null(s)
        if null.any():
            raise where.error(col, "expected a non-empty string, found null", df, null)
    if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        s = _as_strings(s, where, df, col)
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    uniq = np.asarray(uniq, dtype=object)
    if not nullable:
        empty = np.flatnonzero(uniq == "")
        if len(empty):
            raise where.error(col, "expected a non-empty string, found ''", df, codes == empty[0])
    df[col] = pd.Series(np.append(uniq, None)[codes], index=df.index, dtype=object)


def _coerce_num(df: pd.DataFrame, col: str, kind: str, nullable: bool, where: _Where) -> None:
    s = df[col]
    if s.dtype == bool or s.dtype == object and s.map(lambda v: isinstance(v, bool)).any():
        raise where.error(col, f"expected {'an integer' if kind == 'int' else 'a number'}, found a boolean",
                          df, s.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy())
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna().to_numpy() & ~_is_null(s)
    if bad.any():
        raise where.error(col, f"expected {'an integer' if kind == 'int' else 'a number'}", df, bad)
    null = num.isna().to_numpy()
    if not nullable and null.any():
        raise where.error(col, "expected a value, found null", df, null)
    if kind == "int":
        vals = num.to_numpy(dtype=float)
        frac = ~null & (np.floor(np.where(null, 0, vals)) != np.where(null, 0, vals))
        if frac.any():
            raise where.error(col, "expected an integer, found a fraction", df, frac)
        df[col] = num.astype("Int64") if nullable else num.astype(np.int64)
    else:
        vals = num.astype(float)
        inf = np.isinf(vals.to_numpy()) & ~null
        if inf.any():
            raise where.error(col, "expected a finite number", df, inf)
        df[col] = vals


def _coerce_bool(df: pd.DataFrame, col: str, where: _Where) -> None:
    s = df[col]
    if s.dtype == bool:
        return
    truthy = {"true": True, "false": False,
              "True": True, "False": False}

    def conv(v: object) -> object:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer, float, np.floating)) and v in (0, 1):
            return bool(v)
        if isinstance(v, str) and v in truthy:
            return truthy[v]
        return None

    out = s.map(conv)
    bad = out.isna().to_numpy()
    if bad.any():
        raise where.error(col, "expected a boolean (true/false)", df, bad)
    df[col] = out.astype(bool)


def _float_arrays(values: np.ndarray) -> np.ndarray | None:
    """``values`` with nulls as None when every other entry already is a finite 1-D float64 array (what
    Parquet gives, and what :func:`validate` returns); None otherwise (then each entry is converted)."""
    null = pd.isna(values)
    if not set(map(type, values[null])) <= {type(None), float}:
        return None
    arrays = values[~null]
    if len(arrays) == 0:
        return np.full(len(values), None, dtype=object)
    if (set(map(type, arrays)) != {np.ndarray} or set(map(attrgetter("dtype"), arrays)) != {np.dtype(float)}
            or set(map(attrgetter("ndim"), arrays)) != {1} or not np.isfinite(np.concatenate(arrays)).all()):
        return None
    out = values.copy()
    out[null] = None
    return out


def _coerce_list(df: pd.DataFrame, col: str, where: _Where) -> None:
    fast = _float_arrays(df[col].to_numpy(dtype=object))
    if fast is not None:
        df[col] = pd.Series(fast, index=df.index, dtype=object)
        return

    def conv(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (list, tuple, np.ndarray)):
            try:
                arr = np.asarray(v, dtype=float)
            except (TypeError, ValueError):
                return "bad"
            if arr.ndim != 1 or not np.isfinite(arr).all():
                return "bad"
            return arr
        return "bad"

    out = df[col].map(conv)
    bad = out.map(lambda v: isinstance(v, str)).to_numpy()
    if bad.any():
        raise where.error(col, "expected a list of finite numbers or null", df, bad)
    df[col] = out


def _duplicated(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Rows whose values in ``cols`` equal another row's (null equals ''), every copy marked.

    Each column is factorised; the codes are combined pairwise into one integer per row."""
    key = np.zeros(len(df), dtype=np.int64)
    for col in cols:
        codes, uniq = pd.factorize(df[col], use_na_sentinel=True)
        blank = np.flatnonzero(np.asarray(uniq, dtype=object) == "")
        codes = np.where(codes < 0, blank[0] if len(blank) else len(uniq), codes)
        key, _ = pd.factorize(key * (len(uniq) + 1) + codes)     # < len(df) * (len(uniq) + 1): no overflow
    counts = np.bincount(key)
    return counts[key] > 1


def validate(df: pd.DataFrame, source: str = "<table>") -> pd.DataFrame:
    """Check a raw table against the contract and return a typed copy.

    Checks: every contract column present; types (strings, integers, finite numbers, booleans,
    lists of numbers); no duplicate key (task, problem_id, model, method, run_id, sample_id);
    non-negative token counts; one ``params`` value per model; ``correct`` never true where
    ``answer`` is null; tree-search rows carry ``run_id``, ``budget`` and ``run_gen_tokens``.
    Optional columns that are absent are added as nulls.  Unknown extra columns are kept.

    Raises
    ------
    SchemaError
        naming ``source``, the column, the expectation and the first offending row.
    """
    where = _Where(source)
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise SchemaError(f"{source}: the table has no rows")
    missing = [c for c in CONTRACT if c not in df.columns]
    if missing:
        raise SchemaError(f"{source}: missing contract column(s) {missing}; "
                          f"a sample table needs {list(CONTRACT)} ({CONTRACT_DOC})")
    df = df.copy()
    _coerce_columns(df, where)
    return _check_rules(df, where)


def _nulls(base: str, n: int, index: pd.Index) -> pd.Series:
    """An absent optional column: nulls of its type (Int64 NA, float NaN, else None)."""
    if base == "int":
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)), index=index)
    if base == "float":
        return pd.Series(np.full(n, np.nan), index=index)
    return pd.Series(np.full(n, None, dtype=object), index=index, dtype=object)


def _coerce_columns(df: pd.DataFrame, where: _Where) -> None:
    """Give every contract and optional column its type (in place); absent optional columns become nulls."""
    for col, kind in COLUMNS.items():
        nullable = kind.endswith("?")
        base = kind.rstrip("?")
        if col not in df.columns:
            df[col] = _nulls(base, len(df), df.index)
            continue
        if base == "str":
            _coerce_str(df, col, nullable, where)
        elif base in ("int", "float"):
            _coerce_num(df, col, base, nullable, where)
        elif base == "bool":
            _coerce_bool(df, col, where)
        elif base == "list":
            _coerce_list(df, col, where)


def _check_rules(df: pd.DataFrame, where: _Where) -> pd.DataFrame:
    """The rules over typed columns (signs, null answers, one params per model, tree-search columns, no
    duplicate key); returns the table re-indexed and marked validated."""
    for col in ("gen_tokens", "prompt_tokens", "run_gen_tokens", "sample_id", "budget"):
        v = df[col]
        neg = (v.fillna(0) < 0).to_numpy() if hasattr(v, "fillna") else (v < 0)
        if neg.any():
            raise where.error(col, "expected a non-negative integer", df, neg)
    nonpos = (df["params"] <= 0).to_numpy()
    if nonpos.any():
        raise where.error("params", "expected a positive parameter count", df, nonpos)

    wrong = (df["correct"].to_numpy() & df["answer"].isna().to_numpy())
    if wrong.any():
        raise where.error("correct", "is true where 'answer' is null (an unanswered solution cannot be correct)",
                          df, wrong)

    per_model = df.groupby("model")["params"].nunique()
    if (per_model > 1).any():
        model = per_model.index[per_model > 1][0]
        values = sorted(df.loc[df["model"] == model, "params"].unique())[:5]
        raise where.error("params", f"differs within model {model!r} (values {values}); "
                          "one model must have one parameter count", df, (df["model"] == model).to_numpy())

    tree = df["method"].isin(TREE_METHODS).to_numpy()
    if tree.any():
        for col in ("run_id", "budget", "run_gen_tokens"):
            miss = tree & df[col].isna().to_numpy()
            if miss.any():
                raise where.error(col, "is required on tree-search rows (method rebase/mcts)", df, miss)

    dup = _duplicated(df, KEY)
    if dup.any():
        raise where.error(None, f"duplicate key {KEY}: every solution must appear once", df, dup)
    df = df.reset_index(drop=True)
    df.attrs[VALIDATED] = SCHEMA_VERSION
    return df


def concat_validated(frames: list[pd.DataFrame], source: str = "<table>") -> pd.DataFrame:
    """Tables :func:`validate` returned, as one validated table: concatenated (their column types agree,
    so they are kept) and the rules checked again over all rows, since a duplicate key or a model's two
    ``params`` can span tables.  Frames whose types disagree are validated in full."""
    df = pd.concat(frames, ignore_index=True)
    typed = all(all(f[c].dtype == df[c].dtype for c in COLUMNS) for f in frames)
    if not typed:
        return validate(df, source=source)
    df.attrs.pop(VALIDATED, None)
    return _check_rules(df, _Where(source))


#: Columns by which a table of results (not of solutions) gives itself away, and what it is.
_RESULT_TABLES = (({"strategy", "k", "accuracy", "ci_low"}, "a curves table (scaling.evaluate(...).curves)"),
                  ({"strategy", "k", "accuracy", "problem_id"}, "a per-problem table (scaling.evaluate(...).per_problem)"),
                  ({"strategy", "limit"}, "a limits table (scaling.evaluate(...).limits)"))
#: dtype kinds :func:`validate` produces for the contract columns (object: strings).
_TYPED = {"params": "f", "sample_id": "i", "correct": "b", "gen_tokens": "i"}


def check_sample_table(samples: object, source: str = "samples") -> pd.DataFrame:
    """The boundary of every analysis entry point: ``samples`` must be a sample table.

    A table that :func:`validate` produced (or a row subset of one, with columns added) is returned as
    it is; anything else is validated now.  A table of results passed by mistake (curves, per-problem
    values, limits) and a table missing contract columns raise :class:`SchemaError` naming the columns
    and what was expected.

    >>> import pandas as pd
    >>> curves = pd.DataFrame({"task": ["t"], "strategy": ["majority"], "k": [1], "accuracy": [0.5],
    ...                        "ci_low": [0.4]})
    >>> try:
    ...     check_sample_table(curves)
    ... except SchemaError as exc:
    ...     print(str(exc)[:85])
    samples: got a curves table (scaling.evaluate(...).curves), which has no 'problem_id'
    """
    if not isinstance(samples, pd.DataFrame):
        raise SchemaError(f"{source}: expected a sample table (a pandas DataFrame, e.g. from "
                          f"scaling.read_samples), got {type(samples).__name__} ({CONTRACT_DOC})")
    cols = set(samples.columns)
    missing = [c for c in CONTRACT if c not in cols]
    for marks, what in _RESULT_TABLES:
        if missing and marks <= cols:
            raise SchemaError(f"{source}: got {what}, which has no {missing[0]!r} column; expected a sample "
                              f"table, one row per solution with columns {list(CONTRACT)}: evaluate the "
                              f"solutions, not their results ({CONTRACT_DOC})")
    if missing:
        raise SchemaError(f"{source}: missing column(s) {missing}: expected a sample table, one row per "
                          f"solution with columns {list(CONTRACT)} ({CONTRACT_DOC})")
    typed = samples.attrs.get(VALIDATED) == SCHEMA_VERSION and len(samples) > 0 and all(
        samples[c].dtype.kind == kind for c, kind in _TYPED.items()) and all(c in cols for c in COLUMNS)
    return samples if typed else validate(samples, source=source)


# ------------------------------------------------------------------ tables of values (scaling.evaluate)
#: Configuration key columns that every table of values carries (by columns and reward_agg follow).
BASE_KEYS = ["task", "model", "params", "method", "strategy"]
#: Columns of ``Evaluation.per_problem`` (+ the by columns).
PER_PROBLEM_COLUMNS = BASE_KEYS + ["reward_agg", "k", "problem_id", "accuracy", "flops", "mc_var", "capped"]
#: Columns of ``Evaluation.extrapolated`` (+ the by columns).
EXTRAPOLATED_COLUMNS = BASE_KEYS + ["reward_agg", "k", "problem_id", "accuracy", "flops"]
#: Columns of ``Evaluation.extrapolated_summary`` (+ the by columns).
EXTRAPOLATED_SUMMARY_COLUMNS = BASE_KEYS + ["reward_agg", "k", "flops", "accuracy", "ci_low", "ci_high",
                                            "extrapolated", "n_problems", "prior", "check_error", "anchor",
                                            "anchor_check_error"]
#: Columns of ``Evaluation.limits_per_problem`` (+ the by columns after ``method``).
LIMIT_COLUMNS = ["task", "model", "method", "strategy", "problem_id", "correct_share", "top_wrong_share",
                 "margin", "limit"]
_CURVE_VALUES = ["k", "flops", "accuracy", "ci_low", "ci_high", "mc_se", "n_problems", "n_capped"]


def match_rows(table: pd.DataFrame, match: Mapping) -> pd.DataFrame:
    """Rows of ``table`` whose columns equal ``match`` (compared as strings; None matches anything; a
    column the table lacks is ignored): the one row selection behind every ``select(**key)``."""
    keep = np.ones(len(table), bool)
    for c, v in match.items():
        if v is not None and c in table.columns:
            keep &= (table[c].astype(str) == str(v)).to_numpy()
    return table[keep]


def config_columns(table: pd.DataFrame) -> list[str]:
    """The configuration key columns of a table of values: the base keys, then every column that is
    neither a base key nor a value column (the ``by`` columns), then ``reward_agg`` when it is set."""
    known = set(PER_PROBLEM_COLUMNS) | set(_CURVE_VALUES) | set(LIMIT_COLUMNS) | {"source", "label"}
    by = [c for c in table.columns if c not in known]
    keys = [c for c in BASE_KEYS if c in table.columns] + by
    if "reward_agg" in table.columns and table["reward_agg"].notna().any():
        keys.append("reward_agg")
    return keys

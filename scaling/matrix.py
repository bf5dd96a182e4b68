"""From the long sample table to dense (problems x solutions) matrices, the form every estimator uses.

One :class:`SampleMatrix` per (task, model, method[, budget for tree search][, by-values]).  Each row of
the matrix is a *unit*: a problem (i.i.d. sampling and greedy rows) or one search run (tree search,
``method`` rebase/mcts).  Answers become integer class codes per unit (equal canonical strings share a
code; ``-1`` is a null answer, ``-2`` is padding past the unit's last solution).

>>> import scaling
>>> mats = scaling.matrix.to_matrices(scaling.read_samples("data/samples/arith-sub100/arith-neox-113k-sample.parquet"))
>>> mats[0].codes.shape                  # problems x solutions
(100, 256)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .codes import NULL, PAD, class_mass
from .flops import Compute, row_flops
from .schema import TREE_METHODS, SchemaError

REWARD_AGGS = ("last", "min", "prod", "mean")


@dataclass
class SampleMatrix:
    """Dense per-unit arrays of one (task, model, method[, budget][, by]) group.

    Attributes
    ----------
    key : dict with task, model, params, method (+ budget for tree search, + the ``by`` columns)
    problem_ids : (P,) problem of each unit
    run_ids : (P,) search run of each unit (tree search) or None
    n : (P,) number of solutions of each unit
    codes : (P, S) int64 answer class (>= 0), NULL (-1) for no answer, PAD (-2) past ``n``
    correct : (P, S) bool, False on padding
    reward : (P, S) float (NaN on padding) or None when the group has no rewards
    flops : (P, S) float cost of each solution (0 on padding); for tree search the run's cost / n
    unit_flops : (P,) expected cost of the whole unit's set of solutions (tree search: the run's cost)
    prompt_flops : (P,) once-per-problem prompt cost (``Compute(prompt="per_problem")``), else 0
    class_value : (P, C) mean correctness of each answer class (1.0 / 0.0 for a consistent grader)
    """

    key: dict
    problem_ids: np.ndarray
    n: np.ndarray
    codes: np.ndarray
    correct: np.ndarray
    reward: np.ndarray | None
    flops: np.ndarray
    unit_flops: np.ndarray
    prompt_flops: np.ndarray
    class_value: np.ndarray
    run_ids: np.ndarray | None = None
    difficulty: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def has_rewards(self) -> bool:
        """Every solution of the group has a reward (what reward-based strategies need)."""
        return self.reward is not None and self.meta.get("reward_rows_missing", 0) == 0

    @property
    def is_tree(self) -> bool:
        return self.key["method"] in TREE_METHODS

    def class_counts(self) -> np.ndarray:
        """(P, C) number of solutions in each answer class."""
        return class_mass(self.codes, None, self.class_value.shape[1])

    def null_counts(self) -> np.ndarray:
        return (self.codes == NULL).sum(axis=1)

    def config_key(self, by: list[str], reward_agg: str | None) -> dict:
        """The group's configuration columns of the result tables (without the strategy)."""
        return {**{c: self.key[c] for c in ("task", "model", "params", "method")}, **{c: self.key[c] for c in by},
                "reward_agg": reward_agg}

    def take(self, rows: np.ndarray) -> SampleMatrix:
        """The sub-matrix of the given units (used by bootstrap and by-difficulty splits)."""
        rows = np.asarray(rows)
        return SampleMatrix(
            key=dict(self.key), problem_ids=self.problem_ids[rows], n=self.n[rows], codes=self.codes[rows],
            correct=self.correct[rows], reward=None if self.reward is None else self.reward[rows],
            flops=self.flops[rows], unit_flops=self.unit_flops[rows], prompt_flops=self.prompt_flops[rows],
            class_value=self.class_value[rows],
            run_ids=None if self.run_ids is None else self.run_ids[rows],
            difficulty=None if self.difficulty is None else self.difficulty[rows], meta=dict(self.meta))


def aggregate_steps(step_rewards: pd.Series, how: str) -> np.ndarray:
    """Solution-level score from process-RM step scores: ``last``, ``min``, ``prod`` or ``mean``."""
    if how not in REWARD_AGGS:
        raise ValueError(f"reward_agg must be one of {REWARD_AGGS}, got {how!r}")
    fn = {"last": lambda a: a[-1], "min": np.min, "prod": np.prod, "mean": np.mean}[how]
    return np.array([np.nan if v is None or len(v) == 0 else float(fn(np.asarray(v, dtype=float)))
                     for v in step_rewards], dtype=float)


def solution_rewards(samples: pd.DataFrame, reward_agg: str | None) -> np.ndarray:
    """The reward used by verifier strategies: ``reward`` column, or step scores aggregated."""
    if reward_agg is None:
        r = samples["reward"].to_numpy(dtype=float) if "reward" in samples else np.full(len(samples), np.nan)
        if np.isnan(r).all() and "step_rewards" in samples and samples["step_rewards"].notna().any():
            r = aggregate_steps(samples["step_rewards"], "last")
        return r
    if "step_rewards" not in samples or samples["step_rewards"].isna().all():
        raise SchemaError(f"reward_agg={reward_agg!r} needs 'step_rewards', but the table has none")
    return aggregate_steps(samples["step_rewards"], reward_agg)


def _group_keys(method: str, by: list[str]) -> list[str]:
    keys = ["task", "model", "method"]
    if method in TREE_METHODS:
        keys.append("budget")
    return keys + by


def _codes(column: pd.Series) -> np.ndarray:
    """Integer codes of a column in the sort order of its values (nulls -1): sorting rows by the codes
    orders them as sorting by the values does."""
    return pd.factorize(column, sort=True)[0].astype(np.int64)


@dataclass
class _Factor:
    """A column as integer codes in the sort order of its values, nulls last, and the value of each code
    (Python scalars; the null is NaN for object and float columns, else ``pd.NA``, as groupby names it)."""

    codes: np.ndarray
    values: list

    @classmethod
    def of(cls, column: pd.Series) -> _Factor:
        codes, uniq = pd.factorize(column, sort=True)
        null = np.nan if column.dtype.kind in "Of" else pd.NA
        return cls(np.where(codes < 0, len(uniq), codes).astype(np.int64), list(uniq.tolist()) + [null])


def _split(rows: np.ndarray, factors: list[_Factor]):
    """``(key, rows)`` of each distinct combination of the factors' values among ``rows``, sorted by key."""
    codes = [f.codes[rows] for f in factors]
    order = np.lexsort(codes[::-1])
    rows, codes = rows[order], [c[order] for c in codes]
    new = np.zeros(len(rows), dtype=bool)
    new[:1] = True
    for c in codes:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    for a, b in zip(starts, np.append(starts[1:], len(rows)), strict=True):
        yield tuple(f.values[c[a]] for f, c in zip(factors, codes, strict=True)), rows[a:b]


@dataclass
class _Columns:
    """The sample table's columns a matrix build reads, as numpy arrays over every row: the string
    columns as order-preserving integer codes (each factorised once for the whole table)."""

    problem: np.ndarray          # problem_id codes
    run: np.ndarray | None       # run_id codes (None without tree-search rows)
    sample_id: np.ndarray
    answer: np.ndarray           # answer codes, NULL for no answer
    n_answers: int
    correct: np.ndarray
    flops: np.ndarray
    prompt_flops: np.ndarray
    reward: np.ndarray
    params: np.ndarray
    objects: dict                # problem_id, run_id, difficulty as object arrays (the units' labels)

    @classmethod
    def of(cls, samples: pd.DataFrame, compute, reward_agg: str | None, tree: bool) -> _Columns:
        costs = row_flops(samples, compute)
        answer = _codes(samples["answer"])
        labels = [c for c in ("problem_id", "run_id", "difficulty") if c in samples]
        return cls(problem=_codes(samples["problem_id"]), run=_codes(samples["run_id"]) if tree else None,
                   sample_id=samples["sample_id"].to_numpy(dtype=np.int64), answer=answer,
                   n_answers=int(answer.max(initial=-1)) + 1, correct=samples["correct"].to_numpy(dtype=bool),
                   flops=costs["flops"].to_numpy(dtype=float), prompt_flops=costs["prompt_flops"].to_numpy(dtype=float),
                   reward=solution_rewards(samples, reward_agg), params=samples["params"].to_numpy(dtype=float),
                   objects={c: samples[c].to_numpy(dtype=object) for c in labels})


def _check_by_constant(keys: pd.DataFrame, by: list[str]) -> None:
    for col in by:
        nuniq = keys.groupby(["task", "problem_id"])[col].nunique(dropna=False)
        if (nuniq > 1).any():
            pid = nuniq.index[nuniq > 1][0]
            raise SchemaError(f"by={col!r} must be constant within a problem; problem {pid} has "
                              f"{int(nuniq.max())} values")


def to_matrices(samples: pd.DataFrame, compute: Compute | dict | str | None = None,
                reward_agg: str | None = None, by: str | list[str] | None = None) -> list[SampleMatrix]:
    """Split a validated sample table into :class:`SampleMatrix` groups.

    Units are problems for ``sample``/``greedy`` rows and (problem, run_id) for tree search, whose
    groups are further split by ``budget``.  ``by`` names columns (e.g. ``difficulty``) that must be
    constant within a problem; each value gets its own group.  Groups come sorted by method, then by
    their key; units by problem (and run); solutions by ``sample_id``.  :func:`iter_matrices` gives them
    one at a time.
    """
    return list(iter_matrices(samples, compute, reward_agg, by))


def iter_matrices(samples: pd.DataFrame, compute: Compute | dict | str | None = None,
                  reward_agg: str | None = None, by: str | list[str] | None = None) -> Iterator[SampleMatrix]:
    """The groups of :func:`to_matrices`, each built when it is asked for."""
    by = [by] if isinstance(by, str) else list(by or [])
    for col in by:
        if col not in samples:
            raise SchemaError(f"by={col!r}: no such column in the sample table")
    methods = _Factor.of(samples["method"])
    tree = [i for i, v in enumerate(methods.values) if v in TREE_METHODS]
    cols = _Columns.of(samples, compute, reward_agg, tree=bool(np.isin(methods.codes, tree).any()))
    factors: dict[str, _Factor] = {"method": methods}
    for code, method in enumerate(methods.values[:-1]):
        rows = np.flatnonzero(methods.codes == code)
        group_keys = _group_keys(str(method), by)
        if by:
            _check_by_constant(samples.iloc[rows][["task", "problem_id"] + by], by)
        for c in group_keys:
            if c not in factors:
                factors[c] = _Factor.of(samples[c])
        for gkey, grows in _split(rows, [factors[c] for c in group_keys]):
            yield _one_matrix(cols, grows, dict(zip(group_keys, gkey, strict=True)))


def _units(cols: _Columns, rows: np.ndarray, tree: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The group's rows sorted by unit (problem[, run]) and sample_id, each row's unit, and the
    first row (position in the sorted rows) of each unit."""
    pid = cols.problem[rows]
    order = np.lexsort((cols.sample_id[rows], cols.run[rows], pid) if tree else (cols.sample_id[rows], pid))
    rows = rows[order]
    new = np.ones(len(rows), dtype=bool)
    pid = pid[order]
    new[1:] = pid[1:] != pid[:-1]
    if tree:
        run = cols.run[rows]
        new[1:] |= run[1:] != run[:-1]
    return rows, np.cumsum(new) - 1, np.flatnonzero(new)


def _class_codes(cols: _Columns, rows: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Answer class codes local to each unit (0, 1, ... in the sort order of the answers), NULL for none."""
    ans = cols.answer[rows]
    has = ans >= 0
    cls = np.full(len(rows), NULL, dtype=np.int64)
    if has.any():
        width = max(cols.n_answers, 1)
        pair = unit[has] * width + ans[has]
        upair, inv = np.unique(pair, return_inverse=True)
        first = np.searchsorted(upair, (upair // width) * width)
        cls[has] = (np.arange(len(upair)) - first)[inv]
    return cls


def _one_matrix(cols: _Columns, rows: np.ndarray, key: dict) -> SampleMatrix:
    """The :class:`SampleMatrix` of one group from its rows (positions in the table)."""
    tree = key["method"] in TREE_METHODS
    rows, unit, starts = _units(cols, rows, tree)
    p = len(starts)
    pos = np.arange(len(rows)) - starts[unit]
    n = np.bincount(unit, minlength=p)
    s = int(n.max())
    cls = _class_codes(cols, rows, unit)
    n_classes = int(cls.max()) + 1 if (cls >= 0).any() else 0

    codes = np.full((p, s), PAD, dtype=np.int64)
    codes[unit, pos] = cls
    correct = np.zeros((p, s), dtype=bool)
    correct[unit, pos] = cols.correct[rows]
    flops = np.zeros((p, s))
    rflops = cols.flops[rows]
    reward_vals = cols.reward[rows]
    reward = None
    if not np.isnan(reward_vals).all():
        reward = np.full((p, s), np.nan)
        reward[unit, pos] = reward_vals
    if tree:
        run_cost = np.zeros(p)
        run_cost[unit] = rflops  # every row of a run carries the run's cost
        flops[unit, pos] = run_cost[unit] / n[unit]
        unit_flops = run_cost
    else:
        flops[unit, pos] = rflops
        unit_flops = flops.sum(axis=1)
    prompt_flops = np.zeros(p)
    prompt_flops[unit] = cols.prompt_flops[rows]

    class_value = np.zeros((p, max(n_classes, 1)))
    if n_classes:
        tot = class_mass(codes, correct.astype(float), n_classes)
        cnt = class_mass(codes, None, n_classes)
        class_value = np.divide(tot, cnt, out=np.zeros_like(tot), where=cnt > 0)
    first = rows[starts]
    labels = {c: v[first] for c, v in cols.objects.items()}
    key = {**key, "params": float(cols.params[rows[0]])}
    if tree:
        key["budget"] = int(key["budget"])
    return SampleMatrix(key=key, problem_ids=labels["problem_id"], n=n, codes=codes, correct=correct, reward=reward,
                        flops=flops, unit_flops=unit_flops, prompt_flops=prompt_flops,
                        class_value=class_value, run_ids=labels.get("run_id") if tree else None,
                        difficulty=labels.get("difficulty"),
                        meta={"reward_rows_missing": int(np.isnan(reward_vals).sum())})


__all__ = ["SampleMatrix", "to_matrices", "iter_matrices", "class_mass", "aggregate_steps", "solution_rewards", "NULL", "PAD",
           "REWARD_AGGS"]

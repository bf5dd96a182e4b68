"""The evaluation of a sample table: per-problem values of every configuration and what follows from them.

:func:`evaluate` (``scaling.evaluate``) builds the (problems x solutions) matrices of a sample table once
(:mod:`scaling.matrix`), computes from them what :mod:`scaling.strategies` computes per group, and
returns an :class:`Evaluation`.  It holds three tidy long tables computed from those matrices:

``per_problem``         one row per (configuration, k, problem): the problem's exact (or Monte-Carlo)
                        accuracy of the strategy over size-k subsets of its solutions, and its expected FLOPs;
``extrapolated``        the same shape, for k beyond the cached solutions (:mod:`scaling.extrapolate`),
                        with ``extrapolated_summary`` (one row per configuration and k: the mean over
                        problems with its 95 % model interval, the success-rate prior chosen and the
                        in-data check's error) for figures and reports;
``limits_per_problem``  one row per (task, model, method, voting strategy, problem): the plug-in limit of
                        majority / weighted voting (Theorems 1 and 2 of Wu et al.);

and two aggregates derived from them with **one** bootstrap over problems:

``curves``  task, model, params, method, strategy, k, flops, accuracy, ci_low, ci_high, mc_se, n_problems,
            n_capped (+ by columns), reward_agg -- ``accuracy`` is the mean over problems;
``limits``  task, model, method (+ by), strategy, limit, ci_low, ci_high, n_problems, median_margin.

The bootstrap draws one set of multinomial weights over the problems of each (task, model, method[, by])
group, seeded by the group's key, and applies it to every strategy, every k and the limits of the group:
intervals of different curves of one model are paired, and a sub-evaluation (:meth:`Evaluation.select`)
reproduces its parent's intervals.

A configuration is a (task, model, params, method, strategy[, by values][, reward_agg]); its curve is the
accuracy against k.  :meth:`Evaluation.fit` fits the saturation laws (:mod:`scaling.fitting`).

>>> from scaling.synthetic import family_table
>>> ev = evaluate(family_table({"a": 1e8}, n_problems=30, n_samples=8), strategies=["majority"],
...               extrapolate=(), n_boot=50)
>>> ev.curves[["strategy", "k", "n_problems"]].values.tolist()
[['majority', 1, 30], ['majority', 2, 30], ['majority', 4, 30], ['majority', 8, 30]]
>>> ev.values(model="a", strategy="majority").shape       # k x problems
(4, 30)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import registry, workers
from .bootstrap import GroupWeights, percentile_interval
from .extrapolate.predict import extrapolated_frame
from .fitting import fit_evaluation
from .flops import Compute
from .matrix import SampleMatrix, iter_matrices, to_matrices
from .results import Results, check_level
from .schema import (
    _CURVE_VALUES,
    BASE_KEYS,
    CONTRACT_DOC,
    EXTRAPOLATED_COLUMNS,
    EXTRAPOLATED_SUMMARY_COLUMNS,
    LIMIT_COLUMNS,
    PER_PROBLEM_COLUMNS,
    SAMPLING_METHODS,
    SchemaError,
    check_sample_table,
    config_columns,
    match_rows,
)
from .strategies import concat, evaluate_matrix, group_plan, limits_frame, values_frame

if TYPE_CHECKING:
    from .laws import Laws

__all__ = ["evaluate", "fit", "limits", "Evaluation", "PER_PROBLEM_COLUMNS", "EXTRAPOLATED_COLUMNS",
           "EXTRAPOLATED_SUMMARY_COLUMNS", "LIMIT_COLUMNS",
           "EXTRAPOLATE", "config_columns", "aggregate_limits"]

#: Multiples of the cached solution count at which :func:`evaluate` extrapolates per problem by default.
EXTRAPOLATE = (2, 4, 8, 16)

_LIMIT_VALUES = ["strategy", "limit", "ci_low", "ci_high", "n_problems", "median_margin"]


def _by_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in config_columns(table) if c not in BASE_KEYS and c != "reward_agg"]


def _bootstrap(wide: pd.DataFrame, weights: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Column means of a (problems x items) table (NaN: no value) and their percentile interval."""
    v = wide.to_numpy(float)
    ok = np.isfinite(v)
    mean = np.where(ok, v, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
    mean[~ok.any(axis=0)] = np.nan
    if len(weights) == 0:
        nan = np.full(v.shape[1], np.nan)
        return mean, nan, nan.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = (weights @ np.where(ok, v, 0.0)) / (weights @ ok)
    lo, hi = percentile_interval(boots, level) if boots.size else (np.nan, np.nan)
    return mean, lo, hi


def _groups(table: pd.DataFrame, cols: list[str]):
    for key, d in table.groupby(cols, sort=True, dropna=False):
        yield (key if isinstance(key, tuple) else (key,)), d


def _curves(pp: pd.DataFrame, by: list[str], weights: GroupWeights, level: float) -> pd.DataFrame:
    """Aggregate per-problem values into the curves table (one row per configuration and k)."""
    group_cols = ["task", "model", "method"] + by
    items = ["strategy", "k"]
    rows = []
    for gkey, d in _groups(pp, group_cols + ["params", "reward_agg"]):
        acc = d.pivot(index="problem_id", columns=items, values="accuracy")
        mean, lo, hi = _bootstrap(acc, weights(gkey[:len(group_cols)], len(acc)), level)
        stats = d.groupby(items, sort=True).agg(
            flops=("flops", "mean"), n_problems=("accuracy", "count"), n_capped=("capped", "sum"),
            mc_sum=("mc_var", "sum"), mc_any=("mc_var", "count")).reindex(acc.columns)
        mc_se = np.where(stats.mc_any > 0, np.sqrt(stats.mc_sum.to_numpy(float)) / stats.n_problems, np.nan)
        base = dict(zip(group_cols + ["params", "reward_agg"], gkey, strict=True))
        for j, (strategy, k) in enumerate(acc.columns):
            r = stats.iloc[j]
            rows.append({**base, "strategy": strategy, "k": int(k), "flops": float(r.flops),
                         "accuracy": float(mean[j]), "ci_low": float(lo[j]), "ci_high": float(hi[j]),
                         "mc_se": float(mc_se[j]), "n_problems": int(r.n_problems), "n_capped": int(r.n_capped)})
    out = pd.DataFrame.from_records(rows, columns=BASE_KEYS + _CURVE_VALUES + by + ["reward_agg"])
    out = out.sort_values(["task", "model", "method", "strategy"] + by + ["k"], kind="stable")
    return out.reset_index(drop=True)


def aggregate_limits(lpp: pd.DataFrame, by: list[str], *, level: float = 0.95, n_boot: int = 1000,
                     seed: int = 0, weights: GroupWeights | None = None) -> pd.DataFrame:
    """Aggregate per-problem plug-in limits over problems (the bootstrap draws of the group's curves;
    ``weights``: those already drawn for the curves)."""
    weights = weights or GroupWeights(n_boot, seed)
    group_cols = ["task", "model", "method"] + by
    rows = []
    for gkey, d in _groups(lpp, group_cols):
        lim = d.pivot(index="problem_id", columns="strategy", values="limit")
        mean, lo, hi = _bootstrap(lim, weights(gkey, len(lim)), level)
        margin = d.groupby("strategy").margin.median().reindex(lim.columns)
        for j, s in enumerate(lim.columns):
            rows.append({**dict(zip(group_cols, gkey, strict=True)), "strategy": s, "limit": float(mean[j]),
                         "ci_low": float(lo[j]), "ci_high": float(hi[j]),
                         "n_problems": int(lim[s].notna().sum()), "median_margin": float(margin[s])})
    return pd.DataFrame.from_records(rows, columns=group_cols + _LIMIT_VALUES)


def _require(table: pd.DataFrame | None, columns: Sequence[str], name: str) -> pd.DataFrame:
    if table is None:
        return pd.DataFrame(columns=list(columns))
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(f"Evaluation({name}=...): expected a DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing and len(table):
        raise SchemaError(f"Evaluation({name}=...): missing column(s) {missing}; expected the columns "
                          f"{list(columns)} (+ by columns), as scaling.evaluate writes them ({CONTRACT_DOC})")
    return table.reset_index(drop=True)


def _match(table: pd.DataFrame, match: Mapping) -> pd.DataFrame:
    """:func:`scaling.schema.match_rows`, renumbered."""
    return match_rows(table, match).reset_index(drop=True)


class Evaluation(Results):
    """Per-problem values of every configuration of a sample table, its curves, limits and extrapolations.

    Build one with :func:`scaling.evaluate` (from a sample table) or, from per-problem values computed
    elsewhere, ``Evaluation(per_problem, extrapolated=..., limits_per_problem=...)`` with the columns of
    :data:`PER_PROBLEM_COLUMNS` (``mc_var`` and ``capped`` may be left out).

    Attributes
    ----------
    per_problem, extrapolated, limits_per_problem, extrapolated_summary : the tidy long tables (see the
        module docstring).
    curves, limits : their aggregates over problems, with bootstrap intervals.
    settings : how the values were computed (strategies, compute convention, reward_agg, by, seeds ...).
    """

    def __init__(self, per_problem: pd.DataFrame, *, extrapolated: pd.DataFrame | None = None,
                 limits_per_problem: pd.DataFrame | None = None,
                 extrapolated_summary: pd.DataFrame | None = None, level: float = 0.95, n_boot: int = 1000,
                 seed: int = 0, settings: Mapping | None = None):
        pp = _require(per_problem, BASE_KEYS + ["k", "problem_id", "accuracy", "flops"], "per_problem")
        if "mc_var" not in pp:
            pp["mc_var"] = np.nan
        if "capped" not in pp:
            pp["capped"] = False
        if "reward_agg" not in pp:
            pp["reward_agg"] = None
        level = check_level(level)
        self.per_problem = pp
        self.extrapolated = _require(extrapolated, EXTRAPOLATED_COLUMNS, "extrapolated")
        self.extrapolated_summary = _require(extrapolated_summary, EXTRAPOLATED_SUMMARY_COLUMNS,
                                             "extrapolated_summary")
        self.limits_per_problem = _require(limits_per_problem, LIMIT_COLUMNS, "limits_per_problem")
        self.by = _by_columns(pp)
        self.settings = {"level": level, "n_boot": int(n_boot), "seed": int(seed), **dict(settings or {})}
        weights = GroupWeights(n_boot, seed)
        self.curves = _curves(pp, self.by, weights, level) if len(pp) else pd.DataFrame(
            columns=BASE_KEYS + _CURVE_VALUES + self.by + ["reward_agg"])
        self.limits = aggregate_limits(self.limits_per_problem, [b for b in self.by if b in self.limits_per_problem],
                                       level=level, weights=weights)

    # ------------------------------------------------------------------ views
    @property
    def tasks(self) -> list[str]:
        """The tasks evaluated, sorted."""
        return sorted(self.per_problem["task"].astype(str).unique())

    def values(self, column: str = "accuracy", *, extrapolated: bool = False, **match) -> pd.DataFrame:
        """The per-problem ``column`` of the one configuration matching ``match`` (model=, method=,
        strategy=, task=, or a by column) as a (k x problem_id) table; KeyError unless exactly one matches."""
        table = self.extrapolated if extrapolated else self.per_problem
        d = _match(table, match)
        keys = config_columns(d)
        n = len(d.groupby(keys, dropna=False)) if len(d) else 0
        if n != 1:
            raise KeyError(f"{n} configurations match {match}; name the task, model, method and strategy")
        return d.pivot(index="k", columns="problem_id", values=column)

    def select(self, **match) -> Evaluation:
        """The evaluation restricted to the rows matching ``match`` (e.g. ``task="gsm8k"``).  Its curves
        and limits equal the parent's rows, since each group's bootstrap is seeded by the group."""
        unknown = [c for c in match if c not in self.per_problem.columns]
        if unknown:
            raise KeyError(f"select: no column(s) {unknown}; the configuration columns are "
                           f"{config_columns(self.per_problem)}")
        s = self.settings
        return Evaluation(_match(self.per_problem, match), extrapolated=_match(self.extrapolated, match),
                          limits_per_problem=_match(self.limits_per_problem, match),
                          extrapolated_summary=_match(self.extrapolated_summary, match), level=s["level"],
                          n_boot=s["n_boot"], seed=s["seed"], settings=s)

    def to_frame(self) -> pd.DataFrame:
        """The curves table: one row per configuration and k (mean accuracy over problems, its bootstrap
        band at ``settings['level']``, FLOPs, problems)."""
        return self.curves

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """The curves' bands at another ``level``, from the same bootstrap replicates (the configuration
        columns, k, accuracy, ci_low, ci_high)."""
        s = self.settings
        cur = self.curves if level is None else (
            _curves(self.per_problem, self.by, GroupWeights(s["n_boot"], s["seed"]), check_level(level))
            if len(self.per_problem) else self.curves)
        return cur[config_columns(cur) + ["k", "accuracy", "ci_low", "ci_high"]]

    def predict(self, k: int, *, interval: bool = False, level: float | None = None, **match):
        """Mean accuracy of the one configuration matching ``match`` at ``k`` solutions: measured where k
        was evaluated, else the per-problem models' extrapolation (``extrapolate_to`` / ``extrapolate``
        of :func:`evaluate`).  ``interval=True`` returns (accuracy, ci_low, ci_high); ``level`` other than
        the evaluation's recomputes a measured band (an extrapolated band is kept at its own level).
        KeyError when no configuration, or several, match, or k was neither measured nor extrapolated."""
        for table, name in ((self.curves, "measured"), (self.extrapolated_summary, "extrapolated")):
            d = _match(table, match)
            if len(d) and d.groupby([c for c in BASE_KEYS + self.by if c in d], dropna=False).ngroups > 1:
                raise KeyError(f"several configurations match {match}; name the task, model, method and strategy")
            d = d[d.k == int(k)] if len(d) else d
            if len(d):
                if name == "measured" and level is not None:
                    s = self.settings
                    d = _curves(_match(self.per_problem, match), self.by, GroupWeights(s["n_boot"], s["seed"]),
                                check_level(level))
                    d = d[d.k == int(k)]
                r = d.iloc[0]
                return (float(r.accuracy), float(r.ci_low), float(r.ci_high)) if interval else float(r.accuracy)
        raise KeyError(f"no measured or extrapolated value at k={k} matches {match}; evaluate with "
                       "extrapolate_to=k to predict beyond the cached solutions")

    def fit(self, **options) -> Laws:
        """Fit the saturation laws: :func:`scaling.fitting.fit_evaluation` ``(self, **options)`` (see there)
        -> :class:`scaling.Laws`."""
        return fit_evaluation(self, **options)

    # ------------------------------------------------------------------ reporting
    def summary(self) -> str:
        """One line per configuration: problems, k range, accuracy at the smallest and largest k (95% CI),
        the plug-in limit (voting) and the largest extrapolated k."""
        lines = [f"Evaluation: {len(self.curves)} (configuration, k) points of "
                 f"{self.curves.groupby(config_columns(self.curves), dropna=False).ngroups if len(self.curves) else 0}"
                 f" configurations; compute {self.settings.get('compute', '2·N·T_gen (paper)')}; "
                 f"{self.settings['n_boot']} bootstrap replicates over problems"]
        cols = ["task", "model", "method", "strategy"]
        lim = {tuple(map(str, r[:4])): r[4] for r in self.limits[cols + ["limit"]].itertuples(index=False)}
        ex_k = {tuple(map(str, k)): v for k, v in self.extrapolated.groupby(cols).k.max().items()} \
            if len(self.extrapolated) else {}
        for task in self.tasks:
            lines.append(f"\n== task {task} ==")
            lines.append(f"{'model / method / strategy':<56} {'problems':>8} {'k':>9}  {'accuracy (95% CI)':<42}"
                         f" {'limit':>6} {'extrap. k':>9}")
            cur = self.curves[self.curves.task.astype(str) == task]
            for key, d in _groups(cur, ["model", "method", "strategy"] + self.by):
                d = d.sort_values("k")
                a, b = d.iloc[0], d.iloc[-1]
                ends = f"{a.accuracy:.3f} [{a.ci_low:.3f}, {a.ci_high:.3f}]"
                if len(d) > 1:
                    ends += f" -> {b.accuracy:.3f} [{b.ci_low:.3f}, {b.ci_high:.3f}]"
                tkey = (task, str(key[0]), str(key[1]), str(key[2]))
                limit = f"{lim[tkey]:.3f}" if tkey in lim else "-"
                ek = ex_k.get(tkey)
                label = " / ".join(map(str, key))
                lines.append(f"{label[:56]:<56} {int(b.n_problems):>8} {f'{a.k}-{b.k}':>9}  {ends:<42} {limit:>6} "
                             f"{ek if ek is not None else '-':>9}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        n_cfg = self.curves.groupby(config_columns(self.curves), dropna=False).ngroups if len(self.curves) else 0
        return (f"Evaluation({len(self.tasks)} task(s), {n_cfg} configurations, {len(self.curves)} points, "
                f"{len(self.extrapolated)} extrapolated per-problem values)")


# -------------------------------------------------------------------- the entry points

def evaluate_groups(matrices: Iterable[SampleMatrix], strategies: Sequence[str] | None, ks: Iterable[int] | None,
                    n_draws: int, seed: int, n_jobs: int = 1, extrapolate: Sequence[int] = (),
                    by: list[str] | None = None, reward_agg: str | None = None, progress: bool = False,
                    horizon: int | None = None
                    ) -> tuple[list[SampleMatrix], list[list[dict]], list[pd.DataFrame | None]]:
    """:func:`evaluate_matrix` of every group, shard by shard, and :func:`extrapolated_frame` of every
    sampling group that has values, here or in ``n_jobs`` worker processes (:mod:`scaling.workers`; the
    results do not depend on ``n_jobs``).  A group's shards start as soon as its matrix is built, while
    the next one is built.  Returns the groups, their records and the extrapolated frames."""
    ks = None if ks is None else [int(k) for k in ks]
    mats: list[SampleMatrix] = []
    plans: list[tuple[list[str], list[int] | None]] = []
    owner: list[int] = []
    with workers.Pool(n_jobs, "evaluating per problem" if progress else None) as pool:
        for gi, m in enumerate(matrices):
            chosen, gks = group_plan(m, strategies, ks)
            mats.append(m)
            plans.append((chosen, gks))
            parts = workers.shards(m)
            for j, rows in enumerate(parts):
                sub = m if len(parts) == 1 else m.take(rows)
                pool.submit(evaluate_matrix, sub, chosen, gks, n_draws, workers.shard_seed(seed, gi, j, len(parts)))
                owner.append(gi)
        for m, (chosen, gks) in zip(mats, plans, strict=True):
            if (extrapolate or horizon) and chosen and gks and m.key["method"] in SAMPLING_METHODS:
                pool.submit(partial(extrapolated_frame, horizon=horizon), m, chosen, extrapolate, list(by or []),
                            reward_agg, seed)
        results = pool.results()
    parts_of: list[list[list[dict]]] = [[] for _ in mats]
    for gi, recs in zip(owner, results, strict=False):
        parts_of[gi].append(recs)
    return mats, [workers.merge_records(p) for p in parts_of], results[len(owner):]


def _parse(strategies, by) -> tuple[list[str] | None, list[str]]:
    if strategies is not None:
        strategies = [strategies] if isinstance(strategies, str) else list(strategies)
        for s in strategies:
            registry.strategy(s)            # ValueError naming the known strategies
    return strategies, ([by] if isinstance(by, str) else list(by or []))


def evaluate(samples: pd.DataFrame, strategies: Sequence[str] | None = None, ks: Iterable[int] | None = None,
             flops: Compute | dict | str | None = None, reward_agg: str | None = None,
             by: str | list[str] | None = None, level: float = 0.95, seed: int = 0, n_boot: int = 1000,
             n_draws: int = 128, extrapolate: Sequence[int] = EXTRAPOLATE, extrapolate_to: int | None = None,
             n_jobs: int = 1, progress: bool = False) -> Evaluation:
    """Evaluate every strategy at every k for every (task, model, method) of a sample table.

    The table's (problems x solutions) matrices are built once (each group's values start, in worker
    processes with ``n_jobs``, while the next group's matrix is built); from them come the per-problem values,
    the plug-in voting limits and the per-problem extrapolations, aggregated with one bootstrap over
    problems (see :mod:`scaling.evaluation`).

    Parameters
    ----------
    samples : a sample table (:func:`scaling.read_samples`, or a DataFrame in the contract's columns,
        validated here; see ``help(scaling.schema)``).  Anything else -- a DataFrame missing ``correct``
        or ``gen_tokens``, a curves table -- raises :class:`SchemaError` naming the columns.
    strategies : subset of ``greedy, majority, weighted_majority, best_of_n, pass_at_k``; by default
        every strategy the data supports (reward strategies only where every row has a reward).  Asking
        for a reward strategy on rows without rewards raises :class:`SchemaError` naming them.
    ks : subset sizes for ``method == "sample"``; default powers of two up to the smallest problem's
        solution count (plus that count).  A problem with fewer than k solutions uses all of them
        (its estimate and its cost are those of its n solutions; ``capped`` marks it).  Tree-search rows
        use k = the run's ``budget``; greedy rows k = 1.
    flops : compute convention (:class:`scaling.flops.Compute`, a dict or a string such as
        ``"prompt=per_problem,reward"``); default the paper's 2·N·T_gen.
    reward_agg : ``None`` (the ``reward`` column) or ``last``/``min``/``prod``/``mean`` over ``step_rewards``.
    by : extra grouping column(s) constant within a problem, e.g. ``"difficulty"``.
    level, n_boot, seed : percentile bootstrap over problems, one set of draws per (task, model,
        method[, by]) group shared by all its strategies, ks and limits (paired intervals).
    n_draws : random subsets per problem and k for the Monte-Carlo strategy (weighted majority).
    extrapolate : multiples m of the cached solution count n at which each sampling group is
        extrapolated per problem (k = n·m; groups with n < 4 are not); ``()`` for none.
    extrapolate_to : a horizon K (samples per problem): each sampling group is also extrapolated at
        k = n·2, n·4, ... below K and at K itself, so ``Laws.predict`` at K's FLOPs is the per-problem
        model's own prediction (see :meth:`scaling.curves.CurveFit.predict`); None (default) for none.
    n_jobs : worker processes for the per-problem values (shards of problems, :mod:`scaling.workers`) and
        the extrapolations; -1 for every core.  Results do not depend on it (bit for bit).
    progress : show a progress bar over the shards and extrapolations.

    Returns
    -------
    :class:`scaling.evaluation.Evaluation` with ``per_problem``, ``curves`` (task, model, params, method,
    strategy, k, flops, accuracy, ci_low, ci_high, mc_se, n_problems, n_capped [+ by], reward_agg),
    ``limits``, ``limits_per_problem``, ``extrapolated``, ``summary()`` and ``fit()``.  ``flops`` is the
    expected compute per problem; ``accuracy`` the mean over problems of each problem's exact (or
    Monte-Carlo) expectation over size-k subsets; ``mc_se`` its Monte-Carlo standard error (NaN if exact).

    Example
    -------
    >>> from scaling.samples import read_samples
    >>> samples = read_samples("data/samples/arith-sub100/arith-neox-113k-sample.parquet")
    >>> ev = evaluate(samples, strategies=["majority"], ks=[1, 4, 16], extrapolate=(), n_boot=50)
    >>> ev.curves.k.tolist()
    [1, 4, 16]
    >>> ax = ev.curves.plot.line(x="flops", y="accuracy", logx=True)
    """
    strategies, by_cols = _parse(strategies, by)
    samples = check_sample_table(samples)
    if extrapolate_to is not None and (int(extrapolate_to) != extrapolate_to or extrapolate_to < 2):
        raise ValueError(f"extrapolate_to must be a whole number of samples per problem >= 2, got {extrapolate_to!r}")
    level = check_level(level)
    mats, all_recs, extra = evaluate_groups(iter_matrices(samples, compute=flops, reward_agg=reward_agg, by=by_cols),
                                            strategies, ks, n_draws, seed, n_jobs, extrapolate, by_cols, reward_agg,
                                            progress, horizon=extrapolate_to)
    values = concat(values_frame(m, recs, by_cols, reward_agg) for m, recs in zip(mats, all_recs, strict=True)
                    if recs)
    if values is None:
        raise SchemaError("samples: no (task, model, method) group has a strategy to evaluate; greedy rows need "
                          "'greedy' among the strategies, the others need method sample, rebase or mcts")
    extrapolated = concat(e[0] for e in extra if e is not None)           # (per problem, summary, checks)
    extrapolated_summary = concat(e[1] for e in extra if e is not None)
    compute = Compute.parse(flops)
    settings = {"strategies": strategies, "ks": None if ks is None else [int(k) for k in ks],
                "compute": compute.describe() + (" (paper)" if compute == Compute() else ""),
                "reward_agg": reward_agg, "by": by_cols, "n_draws": n_draws, "extrapolate": list(extrapolate),
                "extrapolate_to": None if extrapolate_to is None else int(extrapolate_to)}
    return Evaluation(values, extrapolated=extrapolated, extrapolated_summary=extrapolated_summary,
                      limits_per_problem=concat(limits_frame(m, by_cols) for m in mats),
                      level=level, n_boot=n_boot, seed=seed, settings=settings)


def fit(data: Evaluation | pd.DataFrame, **options) -> Laws:
    """Fit the saturation laws of an :class:`Evaluation`, or of a sample table evaluated first with the
    defaults (so ``fit(samples)`` equals ``evaluate(samples).fit()``) -> :class:`scaling.Laws`.

    ``options`` are those of :func:`scaling.fitting.fit_evaluation`.  A curves table is refused
    (:class:`scaling.SchemaError`): its per-problem values are gone.
    """
    if not isinstance(data, Evaluation):
        data = evaluate(check_sample_table(data, source="scaling.evaluation.fit(data)"), seed=options.get("seed", 0))
    return fit_evaluation(data, **options)


def limits(samples: pd.DataFrame, reward_agg: str | None = None, by: str | list[str] | None = None,
           per_problem: bool = False, level: float = 0.95, n_boot: int = 1000,
           seed: int = 0) -> pd.DataFrame:
    """Plug-in limits of majority and weighted voting as the number of samples grows (Theorems 1, 2).

    The same table as ``scaling.evaluate(samples).limits`` (same bootstrap draws for the same ``seed``
    and ``n_boot``), without evaluating the strategies.  For each problem the limit of majority@k is 1
    when the correct answer holds the largest share of the answer distribution, 0 when another answer
    does (ties split); weighted voting uses the reward-weighted distribution (sum of rewards per answer).
    With the model's distribution replaced by the cached solutions' empirical one, the task-level limit
    is the share of problems that the correct answer wins, and each problem's ``margin = correct_share -
    top_wrong_share`` tells how fast it is approached (a small |margin| means many samples are needed).

    Returns task, model, method (+ by), strategy, limit, ci_low, ci_high, n_problems, median_margin; with
    ``per_problem=True`` one row per problem: task, model, method (+ by), strategy, problem_id,
    correct_share, top_wrong_share, margin, limit.
    """
    _, by_cols = _parse(None, by)
    samples = check_sample_table(samples)
    mats = to_matrices(samples, reward_agg=reward_agg, by=by_cols)
    lpp = concat(limits_frame(m, by_cols) for m in mats)
    if lpp is None:
        lpp = pd.DataFrame(columns=["task", "model", "method"] + by_cols + ["strategy", "problem_id",
                                                                           "correct_share", "top_wrong_share",
                                                                           "margin", "limit"])
    if per_problem:
        return lpp
    return aggregate_limits(lpp, by_cols, level=level, n_boot=n_boot, seed=seed)

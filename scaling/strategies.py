"""Per-group computations behind :func:`scaling.evaluate`: from one :class:`scaling.matrix.SampleMatrix`
to each strategy's per-problem accuracy at every k (:func:`evaluate_matrix`), the plug-in voting limits
(:func:`limits_frame`) and the per-problem extrapolations (:func:`extrapolated_frame`), as rows of the
tables of :class:`scaling.evaluation.Evaluation`.

>>> from scaling.matrix import to_matrices
>>> from scaling.synthetic import make_world, sample_table
>>> m = to_matrices(sample_table(make_world(50, seed=1), 8))[0]
>>> [(r["strategy"], r["k"]) for r in evaluate_matrix(m, ["majority"], ks=[1, 8])]
[('majority', 1), ('majority', 8)]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from functools import partial

import numpy as np
import pandas as pd

from . import estimators as est
from . import workers
from .extrapolate import fit_success_model, predict
from .matrix import SampleMatrix, class_mass
from .registry import REWARD_STRATEGIES, STRATEGY_REGISTRY, VOTING_STRATEGIES, strategy
from .schema import GREEDY_METHODS, SAMPLING_METHODS, TREE_METHODS, SchemaError


def default_ks(n: np.ndarray) -> list[int]:
    """Powers of two up to the smallest unit's solution count, plus that count itself."""
    n_min = int(np.min(n))
    ks = [2 ** i for i in range(0, 64) if 2 ** i <= n_min]
    if n_min not in ks:
        ks.append(n_min)
    return ks


def _check_rewards(m: SampleMatrix, strategy: str) -> None:
    missing = not m.has_rewards
    if missing:
        what = "no row has" if m.reward is None else f"{m.meta['reward_rows_missing']} row(s) lack"
        raise SchemaError(f"strategy {strategy!r} needs rewards, but {what} a 'reward' (or 'step_rewards') "
                          f"in task {m.key['task']!r}, model {m.key['model']!r}, method {m.key['method']!r}; "
                          "score the samples first (python -m collect score) or choose other strategies")


def _strategies_for(m: SampleMatrix, strategies: Sequence[str] | None) -> list[str]:
    method = m.key["method"]
    if method in GREEDY_METHODS:
        return ["greedy"] if strategies is None or "greedy" in strategies else []
    has_reward = m.has_rewards
    if strategies is None:
        # those without rewards first, then (where every row has one) those with: the order of the records
        chosen = [s.name for s in STRATEGY_REGISTRY.values() if s.default and not s.needs_rewards] + \
            ([s.name for s in STRATEGY_REGISTRY.values() if s.default and s.needs_rewards] if has_reward else [])
        if m.reward is not None and not has_reward:
            warnings.warn(f"task {m.key['task']!r}, model {m.key['model']!r}, method {method!r}: "
                          f"{m.meta['reward_rows_missing']} row(s) lack a reward, so {list(REWARD_STRATEGIES)} "
                          "are not evaluated for this group", stacklevel=3)
    else:
        chosen = [s for s in strategies if strategy(s).at_ks is not None]
        for s in chosen:
            if strategy(s).needs_rewards:
                _check_rewards(m, s)
    return chosen


def _problem_values(m: SampleMatrix, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average unit values (runs) per problem: returns (problem ids, per-problem mean)."""
    if m.run_ids is None:
        return m.problem_ids, values
    codes, uniq = pd.factorize(pd.Series(m.problem_ids, dtype=object))
    tot = np.bincount(codes, weights=values, minlength=len(uniq))
    cnt = np.bincount(codes, minlength=len(uniq))
    return np.asarray(uniq, dtype=object), tot / cnt


def evaluate_matrix(m: SampleMatrix, strategies: Sequence[str] | None = None, ks: Iterable[int] | None = None,
                    n_draws: int = 256, seed: int = 0) -> list[dict]:
    """Per-problem accuracy and expected FLOPs of each strategy at each k for one matrix group.

    Returns a list of records ``{strategy, k, problem_ids, values, flops, var, n_capped, capped}`` where
    ``values`` and ``flops`` are per-problem arrays, ``var`` is the per-problem Monte-Carlo variance
    of the estimate (None when exact) and ``capped`` marks problems with fewer than k solutions.
    """
    method = m.key["method"]
    chosen = _strategies_for(m, strategies)
    rng = np.random.default_rng(seed)
    recs: list[dict] = []
    if method in GREEDY_METHODS:
        if not chosen:
            return recs
        acc = strategy("greedy").whole(m)          # several greedy rows of a problem are averaged
        cost = m.unit_flops / m.n + m.prompt_flops
        ids, v = _problem_values(m, acc)
        _, f = _problem_values(m, cost)
        recs.append({"strategy": "greedy", "k": 1, "problem_ids": ids, "values": v, "flops": f,
                     "var": None, "n_capped": 0, "capped": np.zeros(len(ids), bool)})
        return recs
    if method in TREE_METHODS:
        kk = int(m.key["budget"])
        cost = m.unit_flops + m.prompt_flops
        for s in chosen:
            ids, v = _problem_values(m, strategy(s).whole(m))
            _, f = _problem_values(m, cost)
            recs.append({"strategy": s, "k": kk, "problem_ids": ids, "values": v, "flops": f, "var": None,
                         "n_capped": 0, "capped": np.zeros(len(ids), bool)})
        return recs
    if method not in SAMPLING_METHODS:
        raise SchemaError(f"unknown method {method!r} in task {m.key['task']!r}, model {m.key['model']!r}; "
                          f"expected one of {SAMPLING_METHODS + GREEDY_METHODS + TREE_METHODS}")
    ks = sorted({int(k) for k in (default_ks(m.n) if ks is None else ks)})
    if ks and ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    per_sol = m.unit_flops / m.n
    values = {s: strategy(s).at_ks(m, ks, n_draws, rng) for s in chosen}
    for k in ks:
        cost = np.minimum(k, m.n) * per_sol + m.prompt_flops
        capped = m.n < k
        for s in chosen:
            acc, var = values[s][k]
            recs.append({"strategy": s, "k": k, "problem_ids": m.problem_ids, "values": acc, "flops": cost,
                         "var": var, "n_capped": int(capped.sum()), "capped": capped})
    return recs


def group_plan(m: SampleMatrix, strategies: Sequence[str] | None, ks: Iterable[int] | None
               ) -> tuple[list[str], list[int] | None]:
    """The strategies a group is evaluated with (a warning when some rows lack rewards) and, for a
    sampling group, its ks (default: :func:`default_ks` of the whole group), fixed before it is sharded."""
    chosen = _strategies_for(m, strategies)
    if m.key["method"] in SAMPLING_METHODS:
        ks = sorted({int(k) for k in (default_ks(m.n) if ks is None else ks)})
    return chosen, ks


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


def _key(m: SampleMatrix, by: list[str], reward_agg: str | None) -> dict:
    """A matrix group's configuration columns (without the strategy)."""
    return {**{c: m.key[c] for c in ("task", "model", "params", "method")}, **{c: m.key[c] for c in by},
            "reward_agg": reward_agg}


def values_frame(m: SampleMatrix, recs: list[dict], by: list[str], reward_agg: str | None) -> pd.DataFrame:
    """The records of :func:`evaluate_matrix` as rows of ``Evaluation.per_problem``."""
    sizes = [len(r["values"]) for r in recs]
    cat = np.concatenate
    return pd.DataFrame({
        **_key(m, by, reward_agg),
        "strategy": np.repeat([r["strategy"] for r in recs], sizes), "k": np.repeat([int(r["k"]) for r in recs], sizes),
        "problem_id": cat([r["problem_ids"] for r in recs]), "accuracy": cat([r["values"] for r in recs]),
        "flops": cat([np.broadcast_to(r["flops"], (n,)) for r, n in zip(recs, sizes, strict=True)]),
        "mc_var": cat([np.full(n, np.nan) if r["var"] is None else r["var"] for r, n in zip(recs, sizes, strict=True)]),
        "capped": cat([r["capped"] for r in recs])})


def limits_frame(m: SampleMatrix, by: list[str]) -> pd.DataFrame | None:
    """Per-problem plug-in limits of majority (and, with non-negative rewards, weighted) voting.

    For each problem the limit of majority@k as k grows is 1 when the correct answer holds the largest
    share of the answer distribution, 0 when another answer does (ties split); weighted voting uses the
    reward-weighted distribution.  ``margin = correct_share - top_wrong_share`` tells how fast it is
    approached (the gap shrinks roughly like ``exp(-k · margin² / 2)``)."""
    if m.key["method"] not in SAMPLING_METHODS:
        return None
    n_classes = m.class_value.shape[1]
    counts = class_mass(m.codes, None, n_classes)
    weights_ok = m.has_rewards and not (m.reward[m.codes >= 0] < 0).any()
    # the voting strategies of the registry: by count, or (needing non-negative rewards) by reward mass
    kinds = [(name, class_mass(m.codes, m.reward, n_classes) if strategy(name).needs_rewards else counts)
             for name in VOTING_STRATEGIES if weights_ok or not strategy(name).needs_rewards]
    good, present = m.class_value > 0.5, counts > 0
    base = {c: m.key[c] for c in ("task", "model", "method")} | {c: m.key[c] for c in by}
    frames = []
    for name, mass in kinds:
        # shares of all solutions (majority) or of all answered reward mass (weighted)
        total = mass.sum(axis=1) if strategy(name).needs_rewards else m.n.astype(float)
        denom = np.where(total > 0, total, 1.0)
        c_share = np.where(good & present, mass, 0).max(axis=1) / denom
        w_share = np.where(~good & present, mass, 0).max(axis=1) / denom
        frames.append(pd.DataFrame({**base, "strategy": name, "problem_id": m.problem_ids,
                                    "correct_share": c_share, "top_wrong_share": w_share,
                                    "margin": c_share - w_share, "limit": est.vote(mass, present, m.class_value)}))
    return pd.concat(frames, ignore_index=True)


def extrapolation_ks(n0: int, multiples: Sequence[int], horizon: int | None = None) -> list[int]:
    """The k a group with ``n0`` cached solutions per problem is extrapolated at: n0 times each multiple,
    and with a ``horizon`` K also n0·2, n0·4, ... below K and K itself (ks above n0 only).

    >>> extrapolation_ks(128, (2, 4), horizon=1000)
    [256, 512, 1000]
    """
    ks = {n0 * int(mult) for mult in multiples}
    if horizon is not None and horizon > n0:
        ks |= {n0 * 2 ** j for j in range(1, 64) if n0 * 2 ** j < horizon} | {int(horizon)}
    return sorted(k for k in ks if k > n0)


def extrapolated_frame(m: SampleMatrix, strategies: Sequence[str], multiples: Sequence[int], by: list[str],
                       reward_agg: str | None, seed: int, n_draws: int = 16, level: float = 0.95,
                       n_boot: int = 30, check: bool = True, horizon: int | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | None:
    """Predictions at k = n * multiple (and up to a ``horizon``, :func:`extrapolation_ks`; n: the group's
    smallest solution count, at least 4) from
    :func:`scaling.extrapolate.predict`: per problem (cost k times the problem's mean cost of one solution
    plus its prompt once) and as a mean over problems with its ``level`` interval, the success-rate prior
    chosen by the in-data check and that check's error.  One success-rate model per group (``n_boot``
    bootstrap refits) serves pass@k and best-of-n; ``check=False`` skips the in-data checks of voting and
    best-of-n, which only widen their intervals.  Returns (per-problem frame, interval frame, the success
    model's candidate table or None), or None when nothing is extrapolated.  For coverage the interval
    frame also holds the power law (``anchor``) and its in-data check error, against which the model was
    chosen (:func:`scaling.extrapolate.selection.choose_coverage`; ``prior`` is ``power_law`` when it won).
    """
    n0 = int(m.n.min())
    strategies = [s for s in strategies if strategy(s).at_ks is not None]
    ks = extrapolation_ks(n0, multiples, horizon)
    if m.key["method"] not in SAMPLING_METHODS or n0 < 4 or not ks or not strategies:
        return None
    success = None
    if {"pass_at_k", "best_of_n"} & set(strategies):
        success = fit_success_model(m.correct.sum(axis=1), m.n, seed=seed, n_boot=n_boot)
    cost = np.asarray(ks, float)[None, :] * (m.unit_flops / m.n)[:, None] + m.prompt_flops[:, None]
    P = len(m.n)
    key = _key(m, by, reward_agg)
    frames, rows = [], []
    for s in strategies:
        r = predict(m, s, ks, n_draws=n_draws, seed=seed, level=level, success=success, check=check)
        frames.append(pd.DataFrame({**key, "strategy": s, "k": np.tile(ks, P),
                                    "problem_id": np.repeat(m.problem_ids, len(ks)),
                                    "accuracy": np.clip(r.pred, 0.0, 1.0).ravel(), "flops": cost.ravel()}))
        rows.append(pd.DataFrame({**key, "strategy": s, "k": ks, "flops": cost.mean(axis=0), "accuracy": r.est,
                                  "ci_low": r.lo, "ci_high": r.hi, "extrapolated": r.extrapolated,
                                  "n_problems": P, "prior": r.prior, "check_error": r.check_error,
                                  "anchor": np.nan if r.anchor is None else r.anchor,
                                  "anchor_check_error": r.anchor_check_error}))
    checks = None if success is None else success.check.assign(**key)
    return pd.concat(frames, ignore_index=True), pd.concat(rows, ignore_index=True), checks


def concat(frames: Iterable[pd.DataFrame | None]) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


__all__ = ["evaluate_matrix", "default_ks", "group_plan", "evaluate_groups", "values_frame", "limits_frame",
           "extrapolation_ks", "extrapolated_frame", "concat"]

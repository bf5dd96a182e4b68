"""Per-group computations behind :func:`scaling.evaluate`: from one :class:`scaling.matrix.SampleMatrix`
to each strategy's per-problem accuracy at every k (:func:`evaluate_matrix`), the plug-in voting limits
(:func:`limits_frame`), as rows of the tables of :class:`scaling.evaluation.Evaluation`.

>>> from scaling.matrix import to_matrices
>>> from scaling.synthetic import make_world, sample_table
>>> m = to_matrices(sample_table(make_world(50, seed=1), 8))[0]
>>> [(r["strategy"], r["k"]) for r in evaluate_matrix(m, ["majority"], ks=[1, 8])]
[('majority', 1), ('majority', 8)]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import estimators as est
from .matrix import SampleMatrix, class_mass
from .registry import REWARD_STRATEGIES, STRATEGY_REGISTRY, VOTING_STRATEGIES, strategy
from .schema import GREEDY_METHODS, SAMPLING_METHODS, TREE_METHODS, SchemaError

# ----------------------------------------------------------------------------------------------
# The kernels of each strategy of the registry (scaling.registry), both per unit (problem, or search
# run) of a group:
#   at_ks(m, ks, n_draws, rng)  sampling groups: {k: (accuracy, mc_var or None)}, the expectation over
#                               size-k subsets of the unit's n solutions (k > n: all n), exact or, for
#                               weighted voting, Monte Carlo (mc_var: variance of the mean of n_draws
#                               draws; 0 where k >= n);
#   whole(m)                    every solution of the unit (tree search: one run; greedy: the mean of its
#                               greedy rows).
# ----------------------------------------------------------------------------------------------

#: ``{k: (per-unit accuracy, per-unit Monte-Carlo variance or None)}``
AtKs = dict[int, tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Kernels:
    """A strategy's kernels (``at_ks`` None: the strategy is not evaluated at each k)."""

    at_ks: Callable[[SampleMatrix, Sequence[int], int, np.random.Generator], AtKs] | None
    whole: Callable[[SampleMatrix], np.ndarray]


def check_nonnegative_rewards(m: SampleMatrix) -> None:
    """Weighted voting sums rewards per answer, so they must be >= 0 (the error names the group)."""
    valid = m.codes >= 0
    if m.reward is not None and (m.reward[valid] < 0).any():
        raise ValueError(f"weighted_majority sums rewards per answer, so rewards must be >= 0, but task "
                         f"{m.key['task']!r}, model {m.key['model']!r} has rewards down to "
                         f"{np.nanmin(m.reward[valid]):.4g}; transform them (e.g. a sigmoid of logits)")


def _exact(values: dict[int, np.ndarray]) -> AtKs:
    return {k: (v, None) for k, v in values.items()}


def _pass_at_ks(m: SampleMatrix, ks: Sequence[int], n_draws: int, rng) -> AtKs:
    n_correct = m.correct.sum(axis=1)
    return {k: (est.pass_at_k(m.n, n_correct, k), None) for k in ks}


def _weighted_at_ks(m: SampleMatrix, ks: Sequence[int], n_draws: int, rng) -> AtKs:
    check_nonnegative_rewards(m)
    wm = est.weighted_majority_mc(m.codes, m.reward, m.class_value, list(ks), n_draws=n_draws, seed=rng)
    out = {}
    for k in ks:
        acc, var = wm[k]
        exact = np.minimum(k, m.n) >= m.n          # the whole set: no sampling noise
        out[k] = (acc, np.where(exact, 0.0, var / n_draws))
    return out


def _weighted_whole(m: SampleMatrix) -> np.ndarray:
    check_nonnegative_rewards(m)
    return est.vote_all(m.codes, m.class_value, m.reward)


KERNELS: dict[str, Kernels] = {
    "greedy": Kernels(at_ks=None, whole=lambda m: m.correct.sum(axis=1) / m.n),
    "majority": Kernels(
        at_ks=lambda m, ks, n_draws, rng: _exact(est.majority_at_ks(m.codes, m.class_value, m.n, ks)),
        whole=lambda m: est.vote_all(m.codes, m.class_value)),
    "weighted_majority": Kernels(at_ks=_weighted_at_ks, whole=_weighted_whole),
    "best_of_n": Kernels(
        at_ks=lambda m, ks, n_draws, rng: _exact(est.best_of_ks(m.reward, m.correct, m.n, ks)),
        whole=lambda m: est.best_of_k(m.reward, m.correct, m.n, int(m.n.max()))),
    "pass_at_k": Kernels(at_ks=_pass_at_ks, whole=lambda m: (m.correct.sum(axis=1) > 0).astype(float)),
}
assert set(KERNELS) == set(STRATEGY_REGISTRY), "every strategy of the registry has its kernels here"
assert all((KERNELS[s].at_ks is not None) == STRATEGY_REGISTRY[s].at_k for s in KERNELS)


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
        chosen = [s for s in strategies if strategy(s).at_k]
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
        acc = KERNELS["greedy"].whole(m)          # several greedy rows of a problem are averaged
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
            ids, v = _problem_values(m, KERNELS[s].whole(m))
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
    values = {s: KERNELS[s].at_ks(m, ks, n_draws, rng) for s in chosen}
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


def values_frame(m: SampleMatrix, recs: list[dict], by: list[str], reward_agg: str | None) -> pd.DataFrame:
    """The records of :func:`evaluate_matrix` as rows of ``Evaluation.per_problem``."""
    sizes = [len(r["values"]) for r in recs]
    cat = np.concatenate
    return pd.DataFrame({
        **m.config_key(by, reward_agg),
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


def concat(frames: Iterable[pd.DataFrame | None]) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


__all__ = ["evaluate_matrix", "default_ks", "group_plan", "values_frame", "limits_frame", "concat", "KERNELS",
           "Kernels", "check_nonnegative_rewards"]

"""The strategies, one entry each: how a problem's solutions become one answer (the kernels over a
:class:`scaling.matrix.SampleMatrix`), whether it needs rewards, whether it is an oracle, whether voting
gives it a plug-in limit.  Every layer reads this table instead of matching strategy names: the
per-group values (:mod:`scaling.strategies`), the argument checks of :func:`scaling.evaluate`, the
frontier and the allocation (an oracle competes only when asked for by name), the curve families.

Two kernels per strategy, both per unit (problem, or search run) of a group:

``at_ks(m, ks, n_draws, rng)``  sampling groups: ``{k: (accuracy, mc_var or None)}``, the expectation over
                                size-k subsets of the unit's n solutions (k > n: all n), exact or, for
                                weighted voting, Monte Carlo (``mc_var``: variance of the mean of
                                ``n_draws`` draws; 0 where k >= n);
``whole(m)``                    every solution of the unit (tree search: one run; greedy: the mean of its
                                greedy rows).

The names are the contract's (:data:`scaling.schema.STRATEGIES`); display names are in :mod:`scaling.names`.

>>> [s.name for s in STRATEGY_REGISTRY.values() if s.needs_rewards]
['weighted_majority', 'best_of_n']
>>> strategy("pass_at_k").oracle, strategy("majority").voting
(True, True)
>>> strategy("best_of_k")
Traceback (most recent call last):
...
ValueError: unknown strategy 'best_of_k'; expected one of ['greedy', 'majority', 'weighted_majority', 'best_of_n', 'pass_at_k']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import estimators as est
from .matrix import SampleMatrix
from .schema import STRATEGIES

__all__ = ["Strategy", "STRATEGY_REGISTRY", "strategy", "REWARD_STRATEGIES", "ORACLE_STRATEGIES",
           "VOTING_STRATEGIES", "check_nonnegative_rewards"]

#: ``{k: (per-unit accuracy, per-unit Monte-Carlo variance or None)}``
AtKs = dict[int, tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Strategy:
    """One strategy: its name, its kernels (None: does not apply to that kind of group) and its traits."""

    name: str
    needs_rewards: bool
    oracle: bool                 # needs the grader at test time (pass@k): competes only when named
    voting: bool                 # a vote over answer classes: has a plug-in limit (Theorems 1, 2)
    default: bool                # evaluated on sampling / tree groups when no strategies are named
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


STRATEGY_REGISTRY: dict[str, Strategy] = {s.name: s for s in (
    Strategy("greedy", needs_rewards=False, oracle=False, voting=False, default=False, at_ks=None,
             whole=lambda m: m.correct.sum(axis=1) / m.n),
    Strategy("majority", needs_rewards=False, oracle=False, voting=True, default=True,
             at_ks=lambda m, ks, n_draws, rng: _exact(est.majority_at_ks(m.codes, m.class_value, m.n, ks)),
             whole=lambda m: est.vote_all(m.codes, m.class_value)),
    Strategy("weighted_majority", needs_rewards=True, oracle=False, voting=True, default=True,
             at_ks=_weighted_at_ks, whole=_weighted_whole),
    Strategy("best_of_n", needs_rewards=True, oracle=False, voting=False, default=True,
             at_ks=lambda m, ks, n_draws, rng: _exact(est.best_of_ks(m.reward, m.correct, m.n, ks)),
             whole=lambda m: est.best_of_k(m.reward, m.correct, m.n, int(m.n.max()))),
    Strategy("pass_at_k", needs_rewards=False, oracle=True, voting=False, default=True, at_ks=_pass_at_ks,
             whole=lambda m: (m.correct.sum(axis=1) > 0).astype(float)),
)}
assert tuple(STRATEGY_REGISTRY) == STRATEGIES, "the registry must hold exactly the contract's strategies"

#: Strategies that need a reward (or step rewards) on every row.
REWARD_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.needs_rewards)
#: Strategies that need the grader at test time: they compete in a frontier or an allocation only by name.
ORACLE_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.oracle)
#: Strategies that vote over answer classes (a plug-in limit exists).
VOTING_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.voting)


def strategy(name: str) -> Strategy:
    """The registry's entry for ``name``; ValueError naming the known strategies otherwise."""
    try:
        return STRATEGY_REGISTRY[str(name)]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; expected one of {list(STRATEGY_REGISTRY)}") from None

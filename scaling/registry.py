"""The strategies, one entry each, and what every layer needs to know about them: whether a strategy
needs rewards, whether it is an oracle, whether voting gives it a plug-in limit, whether it is evaluated
at each k of a sampling group, whether it is evaluated when no strategies are named.  Every layer reads
this table instead of matching strategy names: the argument checks of :func:`scaling.evaluate`, the
per-group values (:mod:`scaling.strategies`, which holds each strategy's kernels under the same names),
the per-problem models (:mod:`scaling.extrapolate`), the curve families, the frontier and the allocation
(an oracle competes only when asked for by name, :func:`competes`), the plots.

The table sits at the bottom of the package (it imports nothing of it), so the results and their
consumers read it without standing on the kernels.  Display names are in :mod:`scaling.names`.

>>> [s.name for s in STRATEGY_REGISTRY.values() if s.needs_rewards]
['weighted_majority', 'best_of_n']
>>> strategy("pass_at_k").oracle, strategy("majority").voting
(True, True)
>>> competes("pass_at_k", {}), competes("pass_at_k", {"strategy": "pass_at_k"})
(False, True)
>>> strategy("best_of_k")
Traceback (most recent call last):
...
ValueError: unknown strategy 'best_of_k'; expected one of ['greedy', 'majority', 'weighted_majority', 'best_of_n', 'pass_at_k']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Strategy", "STRATEGY_REGISTRY", "STRATEGIES", "strategy", "competes", "REWARD_STRATEGIES",
           "ORACLE_STRATEGIES", "VOTING_STRATEGIES", "AT_K_STRATEGIES"]


@dataclass(frozen=True)
class Strategy:
    """One strategy: its name (the contract's code) and its traits."""

    name: str
    needs_rewards: bool          # a reward (or step rewards) on every row
    oracle: bool                 # needs the grader at test time (pass@k): competes only when named
    voting: bool                 # a vote over answer classes: has a plug-in limit (Theorems 1, 2)
    default: bool                # evaluated on sampling / tree groups when no strategies are named
    at_k: bool                   # evaluated at each k on sampling groups (greedy: the greedy rows only)


STRATEGY_REGISTRY: dict[str, Strategy] = {s.name: s for s in (
    Strategy("greedy", needs_rewards=False, oracle=False, voting=False, default=False, at_k=False),
    Strategy("majority", needs_rewards=False, oracle=False, voting=True, default=True, at_k=True),
    Strategy("weighted_majority", needs_rewards=True, oracle=False, voting=True, default=True, at_k=True),
    Strategy("best_of_n", needs_rewards=True, oracle=False, voting=False, default=True, at_k=True),
    Strategy("pass_at_k", needs_rewards=False, oracle=True, voting=False, default=True, at_k=True),
)}

#: The strategy codes of the contract (``greedy``: the greedy rows themselves; ``pass_at_k``: oracle coverage).
STRATEGIES = tuple(STRATEGY_REGISTRY)
#: Strategies that need a reward (or step rewards) on every row.
REWARD_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.needs_rewards)
#: Strategies that need the grader at test time: they compete in a frontier or an allocation only by name.
ORACLE_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.oracle)
#: Strategies that vote over answer classes (a plug-in limit exists).
VOTING_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.voting)
#: Strategies evaluated (and extrapolated) at each k of a sampling group.
AT_K_STRATEGIES = tuple(s.name for s in STRATEGY_REGISTRY.values() if s.at_k)


def strategy(name: str) -> Strategy:
    """The registry's entry for ``name``; ValueError naming the known strategies otherwise."""
    try:
        return STRATEGY_REGISTRY[str(name)]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; expected one of {list(STRATEGY_REGISTRY)}") from None


def competes(name, match: Mapping) -> bool:
    """Whether a strategy competes in a frontier or an allocation asked for with ``match``: an oracle
    (pass@k needs the grader at test time) only when a strategy is named; unknown names always."""
    spec = STRATEGY_REGISTRY.get(str(name))
    return match.get("strategy") is not None or spec is None or not spec.oracle

"""REBASE: REward-BAlanced SEarch (Wu et al. 2025, Sec. 3.2), and the authors' released variant.

The root is the question; each node is one step, scored by the process reward model (the score of
the partial solution ending at that step).  No rollouts.

Paper rule (``variant="paper"``)::

    B = N; make N first steps (children of the root)
    repeat, one depth at a time:
        every finished node of the depth (answer stated, end-of-sequence, or the path reached the
        token cap) leaves the tree as a solution and lowers B by one
        stop when B = 0 or no open node is left
        open node j of the depth gets  W_j = Round(B * softmax(R_j / T_b))  children,  T_b = 0.1

``Round`` rounds half up.  Rounding can make the children add up to more or less than B, so a run
can end with more or fewer than N solutions (all finished solutions are kept; B never goes below 0).
**Zero children in total**: when every W_j rounds to 0 while B > 0 (for example B = 1 and three equally
scored nodes, each 1/3), the search would die with budget left, so instead the min(B, m) highest-scored
of the m open nodes get one child each (ties broken by creation order).

Released rule (``variant="released"``, the authors' public code): the same loop with T_b = 0.2, a
depth cap of 25, and ceiling allocation from the best node down so that exactly B children are made::

    order the open nodes by score, best first (ties by creation order); rest = B
    for j in that order:  W_j = min(rest, ceil(rest * e_j / sum of e over j and the nodes after it))
                          rest -= W_j          where e_j = exp(R_j / T_b)

Open nodes left at the depth cap are closed with finish ``"depth"`` and output as unfinished
solutions (null answer).

>>> allocate([0.6, 0.5], 4, temperature=0.1).tolist()        # softmax 0.731, 0.269 -> 2.92, 1.08
[3, 1]
>>> allocate([0.5, 0.5, 0.5], 4, temperature=0.1).tolist()   # 1.33 each -> 3 children only
[1, 1, 1]
>>> allocate([0.5, 0.5, 0.5], 4, temperature=0.2, rule="ceil").tolist()
[2, 1, 1]
"""

from __future__ import annotations

import math

import numpy as np

from .expand import Search, SearchGen
from .tree import Tree

VARIANTS = {
    # variant: (balance temperature, allocation rule, depth cap)
    "paper": (0.1, "round", None),
    "released": (0.2, "ceil", 25),
}

_EPS = 1e-9


def _softmax_terms(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    return np.exp(z - z.max())


def allocate(scores, budget: int, *, temperature: float = 0.1, rule: str = "round") -> np.ndarray:
    """Children per node for one REBASE expansion.

    Parameters
    ----------
    scores
        Reward R_j of each open node of the current depth.
    budget
        Remaining budget B (>= 0).
    temperature
        Balance temperature T_b (> 0).
    rule
        ``"round"``: W_j = Round(B * softmax(R/T_b)_j), rounding half up; if that gives zero children
        in total while B > 0, the min(B, m) best nodes get one child each.  ``"ceil"``: the released
        code's ceiling allocation from the best node down, which makes exactly B children.

    Returns
    -------
    Integer array aligned with ``scores``.
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise ValueError("scores must be one-dimensional")
    if not np.isfinite(s).all():
        raise ValueError(f"scores must be finite numbers, got {s.tolist()}")
    if int(budget) != budget or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}")
    if not temperature > 0:
        raise ValueError(f"balance temperature must be positive, got {temperature!r}")
    budget = int(budget)
    m = len(s)
    out = np.zeros(m, dtype=np.int64)
    if m == 0 or budget == 0:
        return out
    e = _softmax_terms(s, temperature)
    order = np.argsort(-s, kind="stable")       # best first, ties by position
    if rule == "round":
        x = budget * e / e.sum()
        out[:] = np.floor(x + 0.5 + _EPS).astype(np.int64)
        if out.sum() == 0:
            out[order[:min(budget, m)]] = 1
        return out
    if rule == "ceil":
        rest = budget
        tail = np.cumsum(e[order][::-1])[::-1]   # sum of e over this node and the ones after it
        for pos, j in enumerate(order):
            if rest == 0:
                break
            share = rest * e[j] / tail[pos] if tail[pos] > 0 else rest
            w = min(rest, max(0, math.ceil(share - _EPS)))
            out[j] = w
            rest -= w
        return out
    raise ValueError(f"unknown allocation rule {rule!r}; expected 'round' or 'ceil'")


class Rebase(Search):
    """One REBASE run on one problem.

    Parameters
    ----------
    tree
        The problem's (empty) tree.
    budget
        N, the number of first steps and of solutions sought.
    variant
        ``"paper"`` (T_b = 0.1, Round, no depth cap) or ``"released"`` (T_b = 0.2, ceiling allocation,
        depth cap 25).
    balance_temperature, max_depth
        Override the variant's T_b or depth cap (``max_depth=None`` keeps the variant's).

    After :func:`collect.search.expand.drive`, ``outputs`` holds the solutions in the order they
    finished and ``stop_reason`` is ``"budget"`` (B reached 0), ``"exhausted"`` (no open node left with
    budget remaining) or ``"depth"``.
    """

    method = "rebase"

    def __init__(self, tree: Tree, budget: int, *, variant: str = "paper",
                 balance_temperature: float | None = None, max_depth: int | None = None):
        super().__init__(tree, budget)
        if variant not in VARIANTS:
            raise ValueError(f"unknown REBASE variant {variant!r}; expected one of {sorted(VARIANTS)}")
        t, rule, depth = VARIANTS[variant]
        self.variant = variant
        self.temperature = float(balance_temperature if balance_temperature is not None else t)
        if not self.temperature > 0:
            raise ValueError(f"balance temperature must be positive, got {self.temperature}")
        self.rule = rule
        self.max_depth = max_depth if max_depth is not None else depth
        self.remaining = self.budget
        self.widths: list[list[int]] = []    # children per expanded node, one list per depth

    def run(self) -> SearchGen:
        b = self.budget
        self.widths.append([b])
        layer = [n for kids in (yield [(0, b)]) for n in kids]
        while True:
            done = [n for n in layer if n.finished]
            self.outputs.extend(done)
            b = max(0, b - len(done))
            self.remaining = b
            active = [n for n in layer if not n.closed]
            if b == 0:
                self.stop_reason = "budget"
                return
            if not active:
                self.stop_reason = "exhausted"
                return
            if self.max_depth is not None and active[0].depth >= self.max_depth:
                for n in active:
                    n.finish = "depth"
                self.outputs.extend(active)
                self.stop_reason = "depth"
                return
            missing = [n.node_id for n in active if n.score is None]
            if missing:
                raise RuntimeError(f"REBASE needs a reward for every open node; nodes {missing} have none")
            w = allocate([n.score for n in active], b, temperature=self.temperature, rule=self.rule)
            self.widths.append([int(x) for x in w])
            req = [(n.node_id, int(k)) for n, k in zip(active, w, strict=True) if k > 0]
            layer = [n for kids in (yield req) for n in kids]


__all__ = ["Rebase", "allocate", "VARIANTS"]

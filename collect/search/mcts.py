"""Monte Carlo tree search over solution steps, in the paper's configuration (Wu et al. 2025).

One *expansion* is one iteration of

1. **selection**: from the root, repeatedly move to the child with the largest UCT value
   ``Q(child) + c * sqrt(ln N(node) / N(child))`` (c = 1; ties go to the earlier child) until a node
   without children is reached;
2. **expansion**: that node gets ``root_width`` children if it is the root (4, 8 or 16 in the paper:
   the run's ``budget``) and ``child_width`` = 2 otherwise;
3. **evaluation**: each new node is valued by the process reward model (its ``score``), no rollouts;
4. **backup**: each new node starts with N = 1, Q = its score, and its score is added to every
   ancestor (N += 1, W += score, Q = W / N: a running mean of the values below the node).

If selection reaches a finished node it cannot be expanded: its score is backed up once more and the
iteration does not count as an expansion (the exploration term then moves selection elsewhere).  The
search stops after ``expansions`` expansions (32/64/128 in the paper, i.e. 8 x the root width by
default), or when no open leaf is left.

Every leaf of the final tree becomes a solution row: finished leaves are graded, unfinished ones are
kept with a null answer (the paper notes MCTS often leaves solutions unfinished).

>>> from collect.search.tree import Tree
>>> t = Tree("Q\\n", "Q"); a = t.add_child(0, text="a", tokens=1, score=0.8)
>>> b = t.add_child(0, text="b", tokens=1, score=0.4)
>>> for n in (a, b): n.visits, n.value_sum = 1, n.score
>>> t.root.visits, t.root.value_sum = 2, 1.2
>>> round(uct(t, a.node_id, 1.0), 4)        # 0.8 + sqrt(ln 2 / 1)
1.6326
"""

from __future__ import annotations

import math

from .expand import Search, SearchGen
from .tree import Node, Tree


def uct(tree: Tree, node_id: int, c: float) -> float:
    """UCT value of ``node_id`` as a choice from its parent: ``Q + c * sqrt(ln N_parent / N)``."""
    n = tree[node_id]
    if n.visits == 0:
        return math.inf
    parent = tree[n.parent]
    return n.value_sum / n.visits + c * math.sqrt(math.log(max(parent.visits, 1)) / n.visits)


def backup(tree: Tree, node_id: int, value: float) -> None:
    """Add ``value`` to ``node_id`` and every ancestor (visits += 1; running mean)."""
    n: Node | None = tree[node_id]
    while n is not None:
        n.visits += 1
        n.value_sum += value
        n = tree[n.parent] if n.parent is not None else None


class MCTS(Search):
    """One MCTS run on one problem.

    Parameters
    ----------
    tree
        The problem's (empty) tree.
    budget
        Children of the root (4, 8 or 16 in the paper); the run's ``budget`` column.
    expansions
        Number of expansions, default ``8 * budget`` (the paper's 32/64/128 for 4/8/16).
    child_width
        Children of every other selected node (2).
    c
        Exploration constant (1).
    """

    method = "mcts"

    def __init__(self, tree: Tree, budget: int, *, expansions: int | None = None, child_width: int = 2,
                 c: float = 1.0):
        super().__init__(tree, budget)
        self.expansions = 8 * self.budget if expansions is None else int(expansions)
        if self.expansions < 1:
            raise ValueError(f"MCTS needs at least one expansion, got {expansions!r}")
        if child_width < 1:
            raise ValueError(f"child_width must be positive, got {child_width!r}")
        if c < 0:
            raise ValueError(f"exploration constant must be >= 0, got {c!r}")
        self.child_width = int(child_width)
        self.c = float(c)
        self.expanded = 0          # expansions done
        self.revisits = 0          # selections that ended on a finished node

    def select(self) -> int:
        """Descend from the root by UCT to a node without children."""
        t = self.tree
        node = t.root
        while node.children:
            node = t[max(node.children, key=lambda j: (uct(t, j, self.c), -j))]
        return node.node_id

    def _open_leaf_exists(self) -> bool:
        return any(not n.children and not n.closed for n in self.tree.nodes)

    def run(self) -> SearchGen:
        t = self.tree
        limit = 1000 * self.expansions       # guard against endless revisits of finished leaves
        selections = 0
        while self.expanded < self.expansions:
            if not self._open_leaf_exists():
                self.stop_reason = "exhausted"
                break
            selections += 1
            if selections > limit:
                self.stop_reason = "revisits"
                break
            j = self.select()
            node = t[j]
            if node.closed:
                backup(t, j, float(node.score if node.score is not None else 0.0))
                self.revisits += 1
                continue
            k = self.budget if j == 0 else self.child_width
            kids = (yield [(j, k)])[0]
            self.expanded += 1
            for ch in kids:
                if ch.score is None:
                    raise RuntimeError(f"MCTS needs a reward for every new node; node {ch.node_id} has none")
                backup(t, ch.node_id, float(ch.score))
        else:
            self.stop_reason = "expansions"
        self.outputs = t.leaves()


__all__ = ["MCTS", "uct", "backup"]

"""MCTS: UCT selection, running-mean backup, finished-leaf revisits and the expansion budget, traced by
hand with a deterministic scripted expander (no model)."""

from __future__ import annotations

import math

import pytest

from collect.search import MCTS, Tree, drive
from collect.search.mcts import backup, uct


class ScriptedExpander:
    """Children get consecutive node ids; node i has tokens i, and (score, finish) from ``script[i]``."""

    def __init__(self, script):
        self.script = script
        self.requests = []

    def expand(self, requests):
        self.requests.append([(node_id, k) for _, node_id, k in requests])
        out = []
        for tree, node_id, k in requests:
            kids = []
            for _ in range(k):
                i = len(tree.nodes)
                score, finish = self.script.get(i, (0.5, None))
                kids.append(tree.add_child(node_id, text=f"s{i}", tokens=i, finish=finish, score=score))
            out.append(kids)
        return out


def run(script, budget, **kw):
    tree = Tree("Q\n", "Q")
    search = MCTS(tree, budget, **kw)
    ex = ScriptedExpander(script)
    drive([search], ex)
    return tree, search, ex


def test_uct_selection_and_backup_traced_by_hand():
    script = {1: (0.8, None), 2: (0.4, None), 3: (0.9, None), 4: (0.2, None), 5: (0.5, None), 6: (0.7, None)}
    tree, search, ex = run(script, 2, expansions=3)
    # 1: root -> nodes 1, 2.  2: UCT(1) = .8 + sqrt(ln 2) = 1.633 > UCT(2) = 1.233 -> node 1 -> 3, 4.
    # 3: UCT(1) = 1.9/3 + sqrt(ln 4 / 3) = 1.313 < UCT(2) = .4 + sqrt(ln 4) = 1.577 -> node 2 -> 5, 6.
    assert ex.requests == [[(0, 2)], [(1, 2)], [(2, 2)]]
    assert search.expanded == 3 and search.revisits == 0 and search.stop_reason == "expansions"
    assert (tree.root.visits, tree.root.value_sum) == (6, pytest.approx(3.5))
    assert (tree[1].visits, tree[1].value) == (3, pytest.approx(1.9 / 3))
    assert (tree[2].visits, tree[2].value) == (3, pytest.approx(1.6 / 3))
    assert [n.node_id for n in search.outputs] == [3, 4, 5, 6]
    assert tree.total_tokens == sum(range(1, 7))


def test_finished_leaf_is_revisited_without_counting_an_expansion():
    script = {1: (0.8, None), 2: (0.1, None), 3: (0.95, "answer"), 4: (0.2, None)}
    tree, search, ex = run(script, 2, expansions=3)
    # 2: node 1 (1.633 vs 0.933) -> 3 (finished), 4.  3: root: UCT(1) = 1.95/3 + sqrt(ln 4/3) = 1.330 >
    # UCT(2) = .1 + sqrt(ln 4) = 1.277; in node 1: UCT(3) = .95 + sqrt(ln 3) = 1.998 -> finished: backed up
    # again.  Next: UCT(1) = 2.9/4 + sqrt(ln 5/4) = 1.359 < UCT(2) = .1 + sqrt(ln 5) = 1.369 -> node 2.
    assert ex.requests == [[(0, 2)], [(1, 2)], [(2, 2)]]
    assert search.revisits == 1 and search.expanded == 3
    assert tree[3].visits == 2 and tree[3].value == pytest.approx(0.95)
    assert [n.node_id for n in search.outputs] == [3, 4, 5, 6]
    assert [n.finished for n in search.outputs] == [True, False, False, False]


def test_search_stops_when_every_leaf_is_finished():
    tree, search, ex = run({1: (0.3, "answer"), 2: (0.6, "eos")}, 2, expansions=32)
    assert search.expanded == 1 and search.stop_reason == "exhausted"
    assert [n.node_id for n in search.outputs] == [1, 2]


def test_default_expansions_follow_the_paper():
    for width, expansions in ((4, 32), (8, 64), (16, 128)):
        assert MCTS(Tree("Q", "Q"), width).expansions == expansions


def test_expansion_count_and_widths_on_a_larger_run():
    tree, search, ex = run({}, 4, expansions=10)
    sizes = [k for req in ex.requests for _, k in req]
    assert sizes == [4] + [2] * 9
    assert len(tree) == 1 + 4 + 2 * 9
    assert tree.root.visits == 4 + 2 * 9
    assert tree.root.value == pytest.approx(0.5)
    # every node's visits = 1 + visits of its children (each new node backs up once)
    for n in tree.nodes[1:]:
        assert n.visits == 1 + sum(tree[c].visits for c in n.children)
    assert len(search.outputs) == len(tree.leaves()) == 1 + 4 + 2 * 9 - (1 + 9)


def test_uct_and_backup_helpers():
    t = Tree("Q", "Q")
    a = t.add_child(0, text="a", tokens=1, score=0.8)
    assert uct(t, a.node_id, 1.0) == math.inf
    backup(t, a.node_id, 0.8)
    assert (a.visits, t.root.visits) == (1, 1)
    assert uct(t, a.node_id, 1.0) == pytest.approx(0.8)          # ln 1 = 0
    backup(t, a.node_id, 0.2)
    assert uct(t, a.node_id, 2.0) == pytest.approx(0.5 + 2 * math.sqrt(math.log(2) / 2))


def test_bad_arguments():
    with pytest.raises(ValueError, match="expansion"):
        MCTS(Tree("Q", "Q"), 4, expansions=0)
    with pytest.raises(ValueError, match="budget"):
        MCTS(Tree("Q", "Q"), 0)
    with pytest.raises(RuntimeError, match="reward"):
        run({1: (None, None)}, 1)

"""REBASE: the allocation rule on hand-computed cases, and whole searches traced by hand with a
deterministic scripted expander (no model), including budget exhaustion and token accounting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collect.search import Rebase, Tree, allocate, drive


class ScriptedExpander:
    """Children get consecutive node ids; node i has tokens i, and (score, finish) from ``script[i]``."""

    def __init__(self, script: dict[int, tuple[float, str | None]]):
        self.script = script
        self.requests: list[list[tuple[int, int]]] = []

    def expand(self, requests):
        self.requests.append([(node_id, k) for _, node_id, k in requests])
        out = []
        for tree, node_id, k in requests:
            kids = []
            for _ in range(k):
                i = len(tree.nodes)
                score, finish = self.script[i]
                kids.append(tree.add_child(node_id, text=f"step {i}", tokens=i, logprob=-0.5 * i,
                                           finish=finish, score=score))
            out.append(kids)
        return out


# ------------------------------------------------------------------------------------------ allocation
def test_allocate_hand_computed_paper_rule():
    # softmax([0.9, 0.5] / 0.1) = [0.982, 0.018] -> 4 * . = [3.93, 0.07]
    assert allocate([0.9, 0.5], 4).tolist() == [4, 0]
    # softmax([0.6, 0.5] / 0.1) = [0.731, 0.269] -> [2.92, 1.08]
    assert allocate([0.6, 0.5], 4).tolist() == [3, 1]
    # T_b = 0.1, scores [0.7, 0.9, 0.8]: e = [e^-2, 1, e^-1] -> 5 * softmax = [0.45, 3.33, 1.22]
    assert allocate([0.7, 0.9, 0.8], 5).tolist() == [0, 3, 1]


def test_allocate_rounding_can_miss_or_exceed_budget():
    assert allocate([0.5, 0.5, 0.5], 4).tolist() == [1, 1, 1]      # 1.33 each: 3 < B
    assert allocate([0.5, 0.5], 3).tolist() == [2, 2]              # 1.5 rounds half up: 4 > B


def test_allocate_zero_total_falls_back_to_best_nodes():
    assert allocate([0.5, 0.5, 0.5], 1).tolist() == [1, 0, 0]       # 1/3 each rounds to 0; ties by order
    # e = exp(10 * (s - 0.52)) = [0.82, 0.90, 0.82, 1, 0.74]; 2 * max share = 0.47 -> all 0; best two get 1
    assert allocate([0.50, 0.51, 0.50, 0.52, 0.49], 2).tolist() == [0, 1, 0, 1, 0]


def test_allocate_ceil_rule_hand_computed():
    # T_b = 0.2: e = [1, e^-0.5 = 0.607]; best first: ceil(4 / 1.607) = 3, then the remaining 1
    assert allocate([0.6, 0.5], 4, temperature=0.2, rule="ceil").tolist() == [3, 1]
    # ties: ceil(4/3) = 2, ceil(2 * 1/2) = 1, 1
    assert allocate([0.5, 0.5, 0.5], 4, temperature=0.2, rule="ceil").tolist() == [2, 1, 1]
    # e = [e^-1, 1, e^-0.5]; order 1, 2, 0: ceil(5 / 1.974) = 3; ceil(2 * 0.607 / 0.974) = 2; then 0
    assert allocate([0.7, 0.9, 0.8], 5, temperature=0.2, rule="ceil").tolist() == [0, 3, 2]
    # a dominant node takes everything
    assert allocate([0.1, 0.9], 3, temperature=0.2, rule="ceil").tolist() == [0, 3]


def test_allocate_edge_cases_and_errors():
    assert allocate([0.3, 0.4], 0).tolist() == [0, 0]
    assert allocate([], 5).tolist() == []
    assert allocate([0.2], 7).tolist() == [7]
    assert allocate([0.2], 7, rule="ceil").tolist() == [7]
    with pytest.raises(ValueError, match="budget"):
        allocate([0.3], -1)
    with pytest.raises(ValueError, match="temperature"):
        allocate([0.3], 2, temperature=0)
    with pytest.raises(ValueError, match="finite"):
        allocate([0.3, math.nan], 2)
    with pytest.raises(ValueError, match="rule"):
        allocate([0.3], 2, rule="floor")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.integers(0, 64),
       st.sampled_from([0.05, 0.1, 0.2, 1.0]))
def test_allocate_properties(scores, budget, t):
    ceil = allocate(scores, budget, temperature=t, rule="ceil")
    assert ceil.sum() == budget and (ceil >= 0).all()
    w = allocate(scores, budget, temperature=t)
    e = np.exp((np.array(scores) - max(scores)) / t)
    x = budget * e / e.sum()
    if budget == 0:
        assert w.sum() == 0
    elif (x < 0.5 - 1e-9).all():                          # every share rounds to 0: fallback
        assert w.sum() == min(budget, len(scores)) and set(w.tolist()) <= {0, 1}
    else:
        assert np.all(np.abs(w - x) <= 0.5 + 1e-6)       # Round: within half a child of B * softmax


# ---------------------------------------------------------------------------------------- search loop
def run(script, budget, **kw):
    tree = Tree("Q\n", "Q")
    search = Rebase(tree, budget, **kw)
    ex = ScriptedExpander(script)
    drive([search], ex)
    return tree, search, ex


def test_paper_rebase_traced_by_hand():
    script = {1: (0.9, None), 2: (0.5, None), 3: (0.5, None), 4: (0.1, "answer"),   # depth 1, B = 4
              5: (0.7, "answer"), 6: (0.8, None), 7: (0.6, None),                    # depth 2, B = 3
              8: (0.9, "answer"), 9: (0.3, "eos")}                                   # depth 3, B = 2
    tree, search, ex = run(script, 4)
    # depth 1: node 4 finishes (B = 3); softmax([.9,.5,.5]/.1) * 3 = [2.89, .05, .05] -> [3, 0, 0]
    # depth 2: node 5 finishes (B = 2); softmax([.8,.6]/.1) * 2 = [1.76, .24] -> [2, 0]
    # depth 3: both children of node 6 finish -> B = 0
    assert ex.requests == [[(0, 4)], [(1, 3)], [(6, 2)]]
    assert search.widths == [[4], [3, 0, 0], [2, 0]]
    assert [n.node_id for n in search.outputs] == [4, 5, 8, 9]
    assert search.stop_reason == "budget" and search.remaining == 0
    # token accounting: node i generated i tokens, pruned nodes 2, 3, 7 included
    assert tree.total_tokens == sum(range(1, 10)) == 45
    assert [tree[i].path_tokens for i in (4, 5, 8, 9)] == [4, 1 + 5, 1 + 6 + 8, 1 + 6 + 9]
    assert tree.step_scores(8) == [0.9, 0.8, 0.9]
    assert tree.path_logprob(8) == pytest.approx(-0.5 * (1 + 6 + 8))
    frame = tree.to_frame()
    assert frame["tokens"].sum() == 45
    assert frame.loc[frame.leaf, "node_id"].tolist() == [2, 3, 4, 5, 7, 8, 9]


def test_zero_children_fallback_and_growth_beyond_budget():
    ln3 = 0.01 * math.log(3)
    script = {1: (0.5, None), 2: (0.5, None), 3: (0.0, None),                  # B = 3 -> [1.5, 1.5, 0]
              4: (0.5 + ln3, None), 5: (0.5, None), 6: (0.5, None), 7: (0.5, None),   # x = [1.5,.5,.5,.5]
              8: (0.9, "answer"), 9: (0.5, None), 10: (0.5, None), 11: (0.5, None), 12: (0.5, None),
              13: (0.9, "answer"), 14: (0.5, None), 15: (0.5, None), 16: (0.5, None),  # B = 1, three open
              17: (0.9, "answer")}
    tree, search, ex = run(script, 3, balance_temperature=0.01)
    # depth 2 has 4 open nodes and depth 3 five (more than B = 3); at depth 4 B = 1 and the three open
    # nodes each get Round(1/3) = 0 children, so the best (the first, by the tie rule) gets one
    assert search.widths == [[3], [2, 2, 0], [2, 1, 1, 1], [1, 1, 1, 1], [1, 0, 0]]
    assert ex.requests[-1] == [(14, 1)]
    assert [n.node_id for n in search.outputs] == [8, 13, 17]
    assert search.stop_reason == "budget"
    assert tree.total_tokens == sum(range(1, 18))


def test_search_ends_when_no_open_node_is_left():
    script = {1: (0.5, None), 2: (0.5, None), 3: (0.5, None), 4: (0.0, None),
              5: (0.9, "answer"), 6: (0.8, "answer"), 7: (0.7, "length")}
    tree, search, _ = run(script, 4)
    # [1.32, 1.32, 1.32, 0.01] -> 3 children, all finish: B = 1 is left but nothing is open
    assert search.widths == [[4], [1, 1, 1, 0]]
    assert [n.node_id for n in search.outputs] == [5, 6, 7]
    assert search.stop_reason == "exhausted" and search.remaining == 1


def test_released_variant_makes_exactly_b_children_and_caps_depth():
    script = {1: (0.6, None), 2: (0.5, None), 3: (0.5, None), 4: (0.1, "answer"),
              5: (0.5, None), 6: (0.5, None), 7: (0.5, None)}
    tree, search, ex = run(script, 4, variant="released", max_depth=2)
    assert search.temperature == 0.2 and search.rule == "ceil"
    # B = 3 over [.6, .5, .5] at T_b = 0.2: ceil(3 / 2.213) = 2, ceil(1 * .607 / 1.213) = 1, 0
    assert search.widths == [[4], [2, 1, 0]]
    assert [n.node_id for n in search.outputs] == [4, 5, 6, 7]
    assert [n.finish for n in search.outputs] == ["answer", "depth", "depth", "depth"]
    assert search.stop_reason == "depth"
    assert Rebase(Tree("Q", "Q"), 4, variant="released").max_depth == 25
    assert Rebase(Tree("Q", "Q"), 4).max_depth is None and Rebase(Tree("Q", "Q"), 4).temperature == 0.1


def test_many_searches_are_batched_into_one_call_per_depth():
    script = {1: (0.9, None), 2: (0.5, "answer"), 3: (0.9, "answer")}
    trees = [Tree(f"Q{i}\n", f"Q{i}") for i in range(3)]
    searches = [Rebase(t, 2) for t in trees]
    ex = ScriptedExpander(script)
    drive(searches, ex)
    # depth 1: node 2 finishes (B = 1), node 1 gets Round(1 * 1) = 1 child, which finishes
    assert ex.requests == [[(0, 2)] * 3, [(1, 1)] * 3]
    for s in searches:
        assert s.widths == [[2], [1]] and s.stop_reason == "budget"
        assert [n.node_id for n in s.outputs] == [2, 3]


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        Rebase(Tree("Q", "Q"), 4, variant="other")
    with pytest.raises(ValueError, match="budget"):
        Rebase(Tree("Q", "Q"), 0)
    tree = Tree("Q", "Q")
    with pytest.raises(RuntimeError, match="reward"):
        drive([Rebase(tree, 2)], ScriptedExpander({1: (None, None), 2: (None, None)}))

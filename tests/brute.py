"""Brute-force reference: enumerate every size-k subset of one problem's solutions."""

from __future__ import annotations

import itertools

import numpy as np


def enumerate_strategies(answers: list, correct: list[bool], reward: list[float], k: int) -> dict[str, float]:
    """Exact expected accuracy of each strategy over all C(n, k) subsets, by enumeration.

    Ties are split (the fraction of tied candidates that are correct); null answers never win a vote.
    An answer class's value is the mean correctness of its solutions.
    """
    answers = [None if a is None or (isinstance(a, float) and np.isnan(a)) else a for a in answers]
    n = len(answers)
    k = min(k, n)
    value: dict = {}
    for a, c in zip(answers, correct, strict=True):
        if a is not None:
            value.setdefault(a, []).append(float(c))
    value = {a: float(np.mean(v)) for a, v in value.items()}
    tot = {"majority": 0.0, "weighted_majority": 0.0, "best_of_n": 0.0, "pass_at_k": 0.0}
    count = 0
    for subset in itertools.combinations(range(n), k):
        count += 1
        votes: dict = {}
        wvotes: dict = {}
        for i in subset:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1
                wvotes[answers[i]] = wvotes.get(answers[i], 0.0) + reward[i]
        if votes:
            top = max(votes.values())
            win = [a for a in votes if votes[a] == top]
            tot["majority"] += np.mean([value[a] for a in win])
            top = max(wvotes.values())
            win = [a for a in wvotes if abs(wvotes[a] - top) <= 1e-9 * max(abs(top), 1e-300)]
            tot["weighted_majority"] += np.mean([value[a] for a in win])
        best = max(reward[i] for i in subset)
        tops = [i for i in subset if reward[i] == best]
        tot["best_of_n"] += np.mean([correct[i] for i in tops])
        tot["pass_at_k"] += any(correct[i] for i in subset)
    return {s: v / count for s, v in tot.items()}

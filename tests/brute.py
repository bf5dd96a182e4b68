"""Brute-force reference: enumerate every size-k subset of one problem's solutions."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

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


def exact_majority(counts: list[int], nulls: int, values: list, k: int) -> Fraction:
    """Exact rational majority@k (ties split, nulls never win) by an integer polynomial DP.

    For each class j with positive value and each count x, the number of subsets with ``X_j = x`` and
    every other class at most x, weighted by ``1 / (1 + T)`` (T others tied at x), is built as a
    polynomial in z (subset size, truncated at k - x) whose coefficients are lists indexed by T.
    ``values`` may be ints, floats or Fractions (floats are taken exactly).  Returns a Fraction.
    """
    counts = [int(c) for c in counts]
    n = nulls + sum(counts)
    k = min(k, n)
    total = Fraction(0)
    for j, (mj, vj) in enumerate(zip(counts, values, strict=True)):
        if vj == 0 or mj == 0:
            continue
        for x in range(1, min(mj, k) + 1):
            d_max = k - x
            poly = [[comb(nulls, d)] for d in range(d_max + 1)]          # poly[d][T]
            for i, mi in enumerate(counts):
                if i == j or mi == 0:
                    continue
                below = [comb(mi, y) for y in range(min(x - 1, mi) + 1)]  # y < x
                tie = comb(mi, x) if mi >= x else 0
                width = len(poly[0]) + 1
                new = [[0] * width for _ in range(d_max + 1)]
                for d, row in enumerate(poly):
                    if not any(row):
                        continue
                    for y, a in enumerate(below):
                        if d + y > d_max:
                            break
                        tgt = new[d + y]
                        for t, c in enumerate(row):
                            tgt[t] += c * a
                    if tie and d + x <= d_max:
                        tgt = new[d + x]
                        for t, c in enumerate(row):
                            tgt[t + 1] += c * tie
                poly = new
            ways = sum(Fraction(c, t + 1) for t, c in enumerate(poly[d_max]) if c)
            total += Fraction(vj) * comb(mj, x) * ways
    return total / comb(n, k)

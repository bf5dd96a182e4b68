"""scaling.allocation: the best configuration at a budget against a search over every converged curve and
every k the budget buys; the cheapest configuration reaching a target; the errors."""

from __future__ import annotations

import numpy as np
import pytest

from scaling import evaluate
from scaling.synthetic import family_table


@pytest.fixture(scope="module")
def laws():
    table = family_table({"a": 1e8, "b": 1e9, "c": 1e10}, n_problems=60, n_samples=32, seed=4)
    return evaluate(table, extrapolate=(), n_boot=50).fit()


def _search(laws, budget: float) -> float:
    """The best prediction over every converged non-oracle curve at every whole k whose cost fits the
    budget and lies in the curve's fitted range (a brute-force search)."""
    best = -np.inf
    for _, cf in laws.curves.items():
        if not cf.converged or cf.key["strategy"] == "pass_at_k":
            continue
        cost = cf.extra["cost_per_k"]
        lo, hi = cf.fit_range
        ks = np.arange(1, int(budget / cost * (1 + 1e-9)) + 1)
        ks = ks[(ks * cost >= lo * (1 - 1e-9)) & (ks * cost <= hi * 1.0001)]
        if len(ks):
            best = max(best, float(cf.predict(ks * cost, warn=False).max()))
    return best


@pytest.mark.parametrize("budget_factor", [1.0, 3.0, 10.0])
def test_optimal_is_the_best_over_every_curve_and_k(laws, budget_factor):
    budget = float(laws.points.flops.min()) * 4 * budget_factor
    best = laws.optimal(budget)
    assert best.flops <= budget * (1 + 1e-9)
    assert best.strategy != "pass_at_k"          # an oracle competes only by name
    assert best.accuracy >= _search(laws, budget) - 1e-12
    assert best.ci_low <= best.accuracy <= best.ci_high


def test_pass_at_k_competes_when_named(laws):
    budget = float(laws.points.flops.median())
    assert laws.optimal(budget, strategy="pass_at_k").strategy == "pass_at_k"


def test_min_flops_reaches_the_target_and_one_solution_less_does_not(laws):
    target = 0.5 * (laws.points.accuracy.min() + laws.points.accuracy.max())
    got = laws.min_flops(target)
    assert got.accuracy >= target - 1e-9
    if got.source == "curve" and got.k > 1:
        cf = laws.curves[got.label]
        assert cf.predict([(got.k - 1) * cf.extra["cost_per_k"]], warn=False)[0] < target


def test_errors_name_the_budget_and_the_reachable_accuracy(laws):
    with pytest.raises(ValueError, match="cheapest measured one costs"):
        laws.optimal(float(laws.points.flops.min()) / 1e3)
    with pytest.raises(ValueError, match="the best reachable is"):
        laws.min_flops(1.5)

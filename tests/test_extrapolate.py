"""Per-problem extrapolation from 64 cached solutions to 1024, on data drawn from a known law."""

import numpy as np
import pytest

from scaling.extrapolate import extrapolate, extrapolated_table, fit_beta_mixture, per_problem
from scaling.matrix import to_matrices
from scaling.synthetic import make_world, population_accuracy, sample_table

STRATS = ["pass_at_k", "majority", "weighted_majority", "best_of_n"]
SCENARIOS = {
    # noisy reward (logistic noise, convincing wrong classes): best-of-n saturates early
    "noisy_reward": dict(seed=0),
    # stronger verifier, heavier-tailed difficulty: best-of-n keeps climbing past 64 samples
    "strong_verifier": dict(seed=1, sep=3.0, noise=0.5, difficulty_scale=3.0, skill=-1.0, impossible=0.03),
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request):
    world = make_world(400, **SCENARIOS[request.param])
    truth = population_accuracy(world, 1024, reps=24)
    m = to_matrices(sample_table(world, 64, seed=101))[0]
    return request.param, world, truth, m


@pytest.mark.parametrize("strategy", STRATS)
def test_64_to_1024_within_003(scenario, strategy):
    name, world, truth, m = scenario
    out = extrapolate(m, strategy, ks=[1024])
    err = float(out.accuracy.iloc[0] - truth[strategy])
    assert abs(err) <= 0.03, f"{name}/{strategy}: predicted {out.accuracy.iloc[0]:.3f}, true {truth[strategy]:.3f}"
    assert np.isfinite(out.se.iloc[0]) and out.se.iloc[0] < 0.05


@pytest.mark.parametrize("scenario", ["strong_verifier"], indirect=True)
def test_best_of_n_gain_is_captured(scenario):
    """Where the plug-in at 64 falls well short of 1024, the model recovers the gain."""
    name, world, truth, m = scenario
    t64 = population_accuracy(world, 64, reps=16)["best_of_n"]
    assert truth["best_of_n"] - t64 > 0.04
    out = extrapolate(m, "best_of_n", ks=[64, 1024])
    gain = out.accuracy.iloc[1] - out.accuracy.iloc[0]
    assert gain == pytest.approx(truth["best_of_n"] - t64, abs=0.025)


def test_beta_mixture_recovers_coverage():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.beta(0.4, 3.0, 600), np.zeros(60)])
    n = np.full(len(p), 64)
    c = rng.binomial(n, p)
    mix = fit_beta_mixture(c, n)
    # 4x beyond the data is tight; at 16x "impossible" vs "very hard" is barely identified from 64
    # samples, which the BIC-weighted model average hedges, so the tolerance is wider there
    for k, tol in ((64, 0.015), (256, 0.025), (1024, 0.045)):
        pred = mix.pass_at(c, n, float(k)).mean()
        assert pred == pytest.approx(np.mean(1 - (1 - p) ** k), abs=tol)
    assert 0.0 < mix.zero < 0.3


def test_unequal_counts_and_missing_rewards():
    world = make_world(80, seed=5)
    t = sample_table(world, 32, seed=1)
    t = t[~((t.problem_id < "p0010") & (t.sample_id >= 20))]  # 10 problems with only 20 solutions
    m = to_matrices(t)[0]
    pred, exact = per_problem(m, "majority", [64, 128])
    assert pred.shape == (80, 2) and np.isfinite(pred).all() and exact.shape == (80,)
    t2 = t.drop(columns=["reward"])
    m2 = to_matrices(t2)[0]
    with pytest.raises(ValueError, match="needs rewards"):
        per_problem(m2, "best_of_n", [64])


def test_extrapolated_table_shape():
    t = sample_table(make_world(40, seed=2), 16, seed=3)
    ex = extrapolated_table(t, strategies=["pass_at_k", "majority"], multiples=(2, 4))
    assert set(ex.strategy) == {"pass_at_k", "majority"}
    assert sorted(ex.k.unique()) == [32, 64]
    assert len(ex) == 2 * 2 * 40 and ex.accuracy.between(0, 1).all()
    # FLOPs scale with k
    g = ex.groupby("k").flops.mean()
    assert g[64] == pytest.approx(2 * g[32])

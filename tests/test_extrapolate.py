"""Per-problem extrapolation far beyond the cached solutions, checked on data drawn from a known law whose
accuracy is computed from the population (exactly for pass@k and best-of-n), never from the samples."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import scaling.estimators as est
from scaling.extrapolate import (
    _grid,
    _Pairs,
    extrapolate,
    extrapolate_samples,
    extrapolated_table,
    fit_beta_mixture,
    fit_success_model,
    per_problem,
    power_law_anchor,
)
from scaling.matrix import to_matrices
from scaling.synthetic import draw, exact_best_of_n, make_world, population_accuracy, sample_table

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
    truth = population_accuracy(world, 1024, reps=16)
    m = to_matrices(sample_table(world, 64, seed=101))[0]
    success = fit_success_model(m.correct.sum(axis=1), np.full(400, 64), n_boot=10)
    return request.param, world, truth, m, success


@pytest.mark.parametrize("strategy", STRATS)
def test_64_to_1024_within_003(scenario, strategy):
    name, world, truth, m, success = scenario
    out = extrapolate(m, strategy, ks=[1024], success=success)
    r = out.iloc[0]
    assert abs(r.accuracy - truth[strategy]) <= 0.03, f"{name}/{strategy}: predicted {r.accuracy:.3f}, true {truth[strategy]:.3f}"
    assert r.ci_low <= r.accuracy <= r.ci_high and r.extrapolated
    assert np.isfinite(r.se) and 0 < r.se < 0.08


@pytest.mark.parametrize("scenario", ["strong_verifier"], indirect=True)
def test_best_of_n_gain_is_captured(scenario):
    """Where the value at 64 falls well short of 1024, the model recovers the gain."""
    name, world, truth, m, success = scenario
    t64 = exact_best_of_n(world, [64])[64].mean()
    assert truth["best_of_n"] - t64 > 0.04
    out = extrapolate(m, "best_of_n", ks=[64, 1024], success=success)
    gain = out.accuracy.iloc[1] - out.accuracy.iloc[0]
    assert gain == pytest.approx(truth["best_of_n"] - t64, abs=0.025)


def test_measured_k_is_the_exact_estimate():
    m = to_matrices(sample_table(make_world(60, seed=4), 16, seed=2))[0]
    n = (m.codes != -2).sum(axis=1)
    out = extrapolate(m, "pass_at_k", ks=[8, 16, 64])
    assert out.accuracy.iloc[0] == pytest.approx(est.pass_at_k(n, m.correct.sum(1), 8).mean())
    assert list(out.extrapolated) == [False, False, True]
    pred, _ = per_problem(m, "majority", [8])
    assert pred[:, 0] == pytest.approx(est.majority_at_k(m.codes, m.class_value, n, 8))


def test_exact_best_of_n_matches_fresh_draws():
    """The quadrature truth against Monte Carlo from the population (heavy-tailed and PRM-min rewards)."""
    for kw in (dict(noise_dist="t4", reward="logit"), dict(reward="prm_min", noise_dist="normal")):
        w = make_world(6, seed=4, success={"kind": "beta", "a": 0.6, "b": 1.0}, impossible=0.0, **kw)
        exact = exact_best_of_n(w, [32])[32]
        rng = np.random.default_rng(0)
        reps = 4000
        rows = np.repeat(np.arange(6), reps)
        cls, rew = draw(w, 32, rng, rows)
        mc = (cls[np.arange(len(rows)), rew.argmax(axis=1)] == 0).reshape(6, reps).mean(axis=1)
        se = np.sqrt(np.maximum(exact * (1 - exact), 1e-4) / reps)
        assert np.all(np.abs(exact - mc) < 4.5 * se), (kw, exact, mc)


def test_prior_gradient_is_exact():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.beta(0.35, 1.2, 300), np.zeros(30)])
    c = rng.binomial(64, p)
    d = _Pairs(c, np.full(len(c), 64), None, _grid(64))
    for fam, za, t in [("beta", True, [-1.0, 0.3, -2.0]), ("beta2", False, [-1.0, 1.0, 0.5, -0.3, 0.2]),
                       ("logit_t", True, [-1.0, 0.5, 1.0, -2.0])]:
        t = np.asarray(t)
        num = optimize.approx_fprime(t, lambda x, f=fam, z=za: d.nll(x, f, z)[0], 1e-6)
        assert np.allclose(num, d.nll(t, fam, za)[1], rtol=1e-4, atol=1e-3), fam


def test_heavy_tail_is_not_mistaken_for_never_solvable():
    """Issue 13: a heavy left tail of success rates (Beta(0.35, 1.2), no impossible problem) must keep its
    mass; a point mass at p = 0 would underpredict coverage at 16x and 80x (by 0.1 in the issue)."""
    errs, hits = [], []
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        p = rng.beta(0.35, 1.2, 600)
        c = rng.binomial(64, p)
        n = np.full(len(p), 64)
        model = fit_success_model(c, n, n_boot=10, seed=seed)
        assert model.zero < 0.05
        for k in (1024, 5120):
            estimate, lo, hi = model.interval(c, n, [k])
            truth = np.mean(1 - (1 - p) ** k)
            errs.append(estimate[0] - truth)
            hits.append(lo[0] <= truth <= hi[0])
    assert np.max(np.abs(errs)) < 0.03 and abs(np.mean(errs)) < 0.012, errs
    assert np.mean(hits) >= 0.75
    assert {"prior", "check_score", "check_error", "weight"} <= set(model.check.columns)


def test_never_solvable_problems_are_found():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.beta(1.0, 2.0, 500), np.zeros(100)])
    c = rng.binomial(64, p)
    n = np.full(len(p), 64)
    model = fit_success_model(c, n, n_boot=0)
    assert model.zero == pytest.approx(1 / 6, abs=0.04)
    assert model.pass_at(c, n, 4096).mean() == pytest.approx(np.mean(1 - (1 - p) ** 4096), abs=0.02)
    # the compatibility wrapper still answers pass_at and zero
    mix = fit_beta_mixture(c, n)
    assert mix.pass_at(c, n, 1024.0).shape == (600,) and 0.1 < mix.zero < 0.25


def test_intervals_cover_and_widen_when_few_problems_are_solved():
    """Nominal 95 % intervals over repeated worlds; wider where the data cannot tell (most problems unsolved)."""
    hits, widths = [], {"easy": [], "hard": []}
    for rep in range(6):
        for kind, skill in (("easy", 0.0), ("hard", -3.0)):
            w = make_world(200, skill, seed=rep, success={"kind": "beta", "a": 0.4, "b": 1.5}, impossible=0.05)
            c = np.random.default_rng(rep).binomial(32, w.p_correct)
            n = np.full(200, 32)
            model = fit_success_model(c, n, n_boot=6, seed=rep)
            _, lo, hi = model.interval(c, n, [512])
            truth = np.mean(1 - (1 - w.p_correct) ** 512)
            hits.append(lo[0] <= truth <= hi[0])
            widths[kind].append(hi[0] - lo[0])
    assert np.mean(hits) >= 0.8
    assert np.median(widths["hard"]) > 1.5 * np.median(widths["easy"])


def test_best_of_n_flat_when_the_reward_tail_saturates():
    """Logistic reward noise of one scale: best-of-k reaches its limit early; the modelled tail must not keep
    climbing from 16x to 64x (a clipped or widened tail did)."""
    w = make_world(300, seed=5, success={"kind": "beta", "a": 0.5, "b": 1.2}, impossible=0.0)
    m = to_matrices(sample_table(w, 32, seed=6))[0]
    success = fit_success_model(m.correct.sum(axis=1), np.full(300, 32), n_boot=0)
    out = extrapolate(m, "best_of_n", ks=[512, 2048], success=success)
    truth = exact_best_of_n(w, [512, 2048])
    assert out.accuracy.iloc[1] - out.accuracy.iloc[0] == pytest.approx(truth[2048].mean() - truth[512].mean(),
                                                                         abs=0.02)
    for j, k in enumerate((512, 2048)):
        assert abs(out.accuracy.iloc[j] - truth[k].mean()) < 0.04
        assert out.ci_low.iloc[j] <= truth[k].mean() <= out.ci_high.iloc[j]


def test_power_law_anchor_reproduces_the_cached_curve():
    m = to_matrices(sample_table(make_world(200, seed=2, success={"kind": "beta", "a": 0.4, "b": 1.5}), 64,
                                 seed=1))[0]
    n = (m.codes != -2).sum(axis=1)
    fitted = power_law_anchor(m, "pass_at_k", [8, 32])
    exact = [est.pass_at_k(n, m.correct.sum(1), k).mean() for k in (8, 32)]
    assert fitted == pytest.approx(exact, abs=0.03)


def test_unequal_counts_and_missing_rewards():
    world = make_world(80, seed=5)
    t = sample_table(world, 32, seed=1)
    t = t[~((t.problem_id < "p0010") & (t.sample_id >= 20))]  # 10 problems with only 20 solutions
    m = to_matrices(t)[0]
    pred, exact = per_problem(m, "majority", [64, 128])
    assert pred.shape == (80, 2) and np.isfinite(pred).all() and exact.shape == (80,)
    pred, _ = per_problem(m, "pass_at_k", [24, 64])
    assert np.isfinite(pred).all() and (pred[:, 1] >= pred[:, 0] - 0.01).all()
    t2 = t.drop(columns=["reward"])
    m2 = to_matrices(t2)[0]
    with pytest.raises(ValueError, match="needs rewards"):
        per_problem(m2, "best_of_n", [64])


def test_extrapolated_table_and_summary():
    t = sample_table(make_world(40, seed=2), 16, seed=3)
    ex = extrapolated_table(t, strategies=["pass_at_k", "majority"], multiples=(2, 4))
    assert set(ex.strategy) == {"pass_at_k", "majority"}
    assert sorted(ex.k.unique()) == [32, 64]
    assert len(ex) == 2 * 2 * 40 and ex.accuracy.between(0, 1).all()
    g = ex.groupby("k").flops.mean()  # FLOPs scale with k
    assert g[64] == pytest.approx(2 * g[32])
    res = extrapolate_samples(t, strategies=["pass_at_k", "best_of_n"], multiples=(4,), n_boot=4)
    s = res.summary
    assert {"ci_low", "ci_high", "extrapolated", "prior", "check_error", "model", "task", "method"} <= set(s.columns)
    assert (s.ci_low <= s.accuracy + 1e-12).all() and (s.accuracy <= s.ci_high + 1e-12).all() and s.extrapolated.all()
    assert len(res.checks) and res.checks.weight.sum() == pytest.approx(1.0)
    per = res.per_problem.groupby(["strategy", "k"]).accuracy.mean()
    assert per.loc[("pass_at_k", 64)] == pytest.approx(s.set_index("strategy").loc["pass_at_k", "accuracy"], abs=0.02)


def test_figure_marks_extrapolated_points_with_bands(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import scaling
    from scaling.plots import error_vs_flops, save_all

    t = pd.concat([sample_table(make_world(30, skill, seed=1, model=name, params=p), 16, seed=2)
                   for name, skill, p in (("s", -0.5, 1e8), ("l", 0.5, 1e9))], ignore_index=True)
    ev = scaling.evaluate(t, strategies=["pass_at_k"], extrapolate=(2, 4), n_boot=50)
    s = ev.extrapolated_summary           # the pipeline's intervals for the extrapolated means
    assert len(s) == 4 and s.extrapolated.all() and (s.ci_low < s.accuracy).all() and (s.accuracy < s.ci_high).all()
    per = ev.extrapolated.groupby(["model", "k"]).accuracy.mean()
    assert np.allclose(per.values, s.set_index(["model", "k"]).accuracy.loc[per.index].values, atol=0.02)
    laws = ev.fit(n_boot=0)
    ax = error_vs_flops(laws, "synthetic", "pass_at_k", extrapolation=s)
    assert any("95% interval" in txt.get_text() for txt in ax.get_legend().get_texts())
    assert save_all(laws, "synthetic", tmp_path, extrapolation=s)

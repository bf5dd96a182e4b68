"""Per-problem extrapolation far beyond the cached solutions, checked on data drawn from a known law whose
accuracy is computed from the population (exactly for pass@k and best-of-n), never from the samples."""

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import scaling.estimators as est
from scaling.extrapolate import extrapolate, fit_success_model, per_problem, power_law_anchor
from scaling.extrapolate.priors import _grid, _Pairs
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
                       ("logit_t", True, [-1.0, 0.5, 1.0, -2.0]), ("gev", True, [3.0, 1.0, 0.3, -2.0]),
                       ("gev", False, [5.0, 1.5, -0.3]), ("gev", False, [4.0, 1.2, 5e-5])]:
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


def test_gev_hardness_law_is_brown_power_law():
    """Hardness u = -log p ~ Gumbel(mu, beta) (the GEV with xi = 0) gives coverage exp(-a k^(-1/beta)) at
    large k: the prior behind Brown et al.'s power law.  Its coverage at 16x from 64 samples is recovered."""
    rng = np.random.default_rng(7)
    u = 6.0 + 2.5 * rng.gumbel(size=3000)
    p = np.exp(-np.maximum(u, 0.0))
    ks = np.array([64.0, 1024.0, 16384.0])
    cover = np.array([np.mean(1 - (1 - p) ** k) for k in ks])
    b = np.polyfit(np.log(ks), np.log(-np.log(cover)), 1)[0]
    assert b == pytest.approx(-1 / 2.5, abs=0.04)            # -log coverage ~ k^(-1/beta)
    c = rng.binomial(64, p[:600])
    model = fit_success_model(c, np.full(600, 64), families=("gev",), zero_atoms=(False,), n_boot=0)
    assert model.candidates[0].theta[2] == pytest.approx(0.0, abs=0.35)  # the tail index
    truth = np.mean(1 - (1 - p[:600]) ** 1024)
    assert model.pass_at(c, np.full(600, 64), 1024).mean() == pytest.approx(truth, abs=0.03)


def test_coverage_choice_takes_the_model_where_the_power_law_cannot_saturate():
    """Light-tailed difficulty (every problem solvable): coverage saturates and the power law, fitted to
    the curve, under-predicts; its long-range check (fit on n/f, predict n) shows it reading low, so the
    bracket's premise (the power law reads high) fails, the per-problem model beats the bracket in the
    check and is chosen; the choice, every check error and the anchor are reported."""
    from scaling.extrapolate.predict import MARGIN, choose_coverage
    from scaling.extrapolate.selection import long_range_frac

    w = make_world(400, -4.0, seed=3, success={"kind": "logit_normal", "scale": 1.0}, impossible=0.0)
    c = np.random.default_rng(1).binomial(32, w.p_correct)
    n = np.full(400, 32)
    truth = np.mean(1 - (1 - w.p_correct) ** 512)
    ch = choose_coverage(fit_success_model(c, n, n_boot=5), c, n, [512])
    assert long_range_frac(32) == 4 and ch.check["frac"] == 4
    assert ch.check["power_law"] < -MARGIN * ch.check["noise"]
    assert abs(ch.check["power_law"]) > abs(ch.check["bracket"]) > abs(ch.check["model"]) + MARGIN * ch.check["noise"]
    assert ch.choice == "model"
    assert truth - ch.anchor[0] > 0.15 and abs(ch.est[0] - truth) < 0.5 * (truth - ch.anchor[0])
    assert ch.bracket.upper[0] < ch.bracket.est[0] < ch.bracket.lower[0] < ch.est[0]
    assert ch.lo[0] < ch.est[0] < ch.hi[0]


def test_coverage_choice_keeps_the_bracket_where_the_power_law_reads_high():
    """A heavy left tail with never-solvable problems: the power law over-predicts inside the data, so the
    bracket's premise holds and it is kept whatever the model's own check says."""
    from scaling.extrapolate.predict import choose_coverage

    w = make_world(400, seed=5, success={"kind": "beta", "a": 0.3, "b": 3.0}, impossible=0.3)
    c = np.random.default_rng(2).binomial(128, w.p_correct)
    n = np.full(400, 128)
    ch = choose_coverage(fit_success_model(c, n, n_boot=0), c, n, [8192])
    assert ch.check["frac"] == 16 and ch.check["power_law"] > 0
    assert ch.choice == "bracket" and ch.est[0] == pytest.approx(ch.bracket.est[0], abs=1e-12)
    truth = np.mean(1 - (1 - w.p_correct) ** 8192)
    assert ch.lo[0] <= truth <= ch.hi[0]


def test_power_law_coverage_bootstrap_matches_the_cached_curve():
    from scaling.extrapolate.power_law import power_law_coverage

    w = make_world(300, seed=2, success={"kind": "beta", "a": 0.4, "b": 1.5})
    c = np.random.default_rng(0).binomial(64, w.p_correct)
    n = np.full(300, 64)
    pl = power_law_coverage(c, n, n_boot=100, seed=1)
    assert pl(32) == pytest.approx(est.pass_at_k(n, c, 32).mean(), abs=0.02)
    assert pl.replicates([32, 1024]).shape == (100, 2)
    assert np.quantile(pl.replicates([1024])[:, 0], 0.025) < pl(1024) < np.quantile(pl.replicates([1024])[:, 0], 0.975)


def test_extrapolate_to_a_horizon_is_what_laws_predict(tmp_path):
    """``evaluate(..., extrapolate_to=K)`` extrapolates every sampling group up to K, and ``Laws.predict``
    at those FLOPs returns the per-problem model's value and interval (not the fitted curve's), passes
    through every model point beyond the measured range, keeps the curve inside it, and survives a save."""
    import scaling
    from scaling.laws import read_laws

    t = pd.concat([sample_table(make_world(60, skill, seed=1, model=name, params=p), 16, seed=2)
                   for name, skill, p in (("s", -1.0, 1e8), ("l", 0.5, 1e9))], ignore_index=True)
    ev = scaling.evaluate(t, strategies=["pass_at_k", "majority"], extrapolate_to=1000, n_boot=50)
    s = ev.extrapolated_summary
    assert sorted(s.k.unique()) == [32, 64, 128, 256, 512, 1000] and ev.settings["extrapolate_to"] == 1000
    assert s[s.strategy == "pass_at_k"].anchor.notna().all() and s[s.strategy == "majority"].anchor.isna().all()
    laws = ev.fit(n_boot=20)
    for r in s.itertuples():
        acc, lo, hi = laws.predict(r.flops, model=r.model, method="sample", strategy=r.strategy, interval=True)
        assert acc == pytest.approx(r.accuracy, abs=1e-12)
        assert (lo, hi) == pytest.approx((r.ci_low, r.ci_high), abs=1e-12)
    cf = laws.curve(model="l", method="sample", strategy="pass_at_k")
    inside = cf.flops_range[1] / 2
    assert laws.predict(inside, model="l", method="sample", strategy="pass_at_k") == pytest.approx(
        float(np.clip(cf._f(np.array([[cf.params[k] for k in cf.params]]), np.array([inside]))[0, 0], 0, 1)))
    ss = s[(s.model == "l") & (s.strategy == "pass_at_k")].sort_values("k")
    mid = np.sqrt(ss.flops.iloc[-2] * ss.flops.iloc[-1])
    v = laws.predict(mid, model="l", method="sample", strategy="pass_at_k")
    assert min(ss.accuracy.iloc[-2:]) - 0.02 <= v <= max(ss.accuracy.iloc[-2:]) + 0.02
    path = laws.write(tmp_path / "l.json")
    again = read_laws(path).predict(ss.flops.iloc[-1], model="l", method="sample", strategy="pass_at_k")
    assert again == pytest.approx(ss.accuracy.iloc[-1], abs=1e-12)
    with pytest.raises(ValueError, match="extrapolate_to"):
        scaling.evaluate(t, strategies=["pass_at_k"], extrapolate_to=1.5)


@functools.lru_cache(maxsize=1)
def _codecontests_errors() -> pd.DataFrame:
    """CodeContests (Large Language Monkeys, data/real-coverage): 128 of each problem's 10,000 outcomes
    (the benchmark's draw 0), coverage at 10,000 through the library path; per model the truth (share
    solved in all 10,000), ours with its interval, and Brown et al.'s power law on the same draw."""
    import importlib.util

    import scaling

    spec = importlib.util.spec_from_file_location(
        "bench_extrapolate", Path(__file__).parent.parent / "benchmarks" / "bench_extrapolate.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    counts = pd.read_csv(Path(__file__).parent.parent / "data" / "real-coverage" / "codecontests_counts.csv")
    truth = counts.assign(s=counts.correct > 0).groupby("model").s.mean()
    samples = bench.codecontests_table(counts, 128, seed=0)
    assert len(samples) == 140 * 5 * 128 and samples.groupby(["model", "problem_id"]).size().eq(128).all()
    ev = scaling.evaluate(samples, strategies=["pass_at_k"], extrapolate_to=10_000, n_boot=0)
    s = ev.extrapolated_summary.query("k == 10000").set_index("model")
    return s.assign(truth=truth.reindex(s.index), err=(s.accuracy - truth.reindex(s.index)).abs(),
                    anchor_err=(s.anchor - truth.reindex(s.index)).abs())


def test_codecontests_coverage_at_10000_from_128():
    """Real data, 78x beyond the cached outcomes: within 0.05 on average and 0.1 at worst, as good as the
    power law on average (within 0.01), and every interval covers the truth."""
    s = _codecontests_errors()
    assert s.err.mean() < 0.05 and s.err.max() < 0.1, s
    assert s.err.mean() < s.anchor_err.mean() + 0.01, s
    assert ((s.ci_low <= s.truth) & (s.truth <= s.ci_high)).all(), s


@pytest.mark.xfail(strict=True, reason="issue 20's goal, not met: on this draw ours 0.040 mean / 0.085 worst, the "
                   "power law 0.040 / 0.059 (Llama 3 8B Instruct: ours 0.151, power law 0.179, truth 0.236)")
def test_codecontests_below_the_power_law_in_mean_and_worst():
    s = _codecontests_errors()
    assert s.err.mean() < s.anchor_err.mean() and s.err.max() < s.anchor_err.max(), s


def test_best_of_n_takes_the_power_law_where_the_check_shows_the_model_off():
    """Real data, the shipped family's smallest model (arith-neox-32k), whose reward barely tells right from
    wrong: from 16 of 256 solutions the reward-tail model predicts best-of-n rising with k, and its in-data
    check (n/4 -> n) shows it off by more than MARGIN noise while the power law on best-of-n's own curve
    is closer, so the power law is used; the truth is the exact value on all 256 solutions."""
    from scaling.extrapolate.exact import _exact_at
    from scaling.extrapolate.groups import _arrays

    root = Path(__file__).parent.parent / "data" / "samples" / "arith"
    full = pd.read_parquet(root / "arith-neox-32k.parquet").query("method == 'sample'")
    truth = float(_exact_at(_arrays(to_matrices(full)[0]), "best_of_n", 256, 0).mean())
    out = extrapolate(to_matrices(full[full.sample_id < 16])[0], "best_of_n", ks=[256]).iloc[0]
    assert out.prior == "power_law"
    assert abs(out.accuracy - truth) < 0.03 and out.ci_low <= truth <= out.ci_high

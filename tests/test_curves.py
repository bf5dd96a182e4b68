"""Curve families: parameter recovery, bootstrap interval coverage, family choice, flags, warnings."""

import warnings

import numpy as np
import pytest

from scaling.curves import FAMILIES, ExtrapolationWarning, fit_curve

K = 2.0 ** np.arange(0, 9)
C = 1e12 * K
TRUTH = {
    "power_floor": {"E_inf": 0.25, "A": 0.45, "alpha": 0.6},
    "logistic": {"h": 0.8, "s": 1.5, "m": 12.6},
    "monkeys": {"a": 1.2, "b": 0.35},
    "power_floor_limit": {"A": 0.4, "alpha": 0.5},
}
LIMIT = 0.7


def true_curve(fam, flops):
    p = np.array([[TRUTH[fam][n] for n in FAMILIES[fam].params]])
    logc = np.log(flops / flops.min())
    return FAMILIES[fam].f(p, logc, np.log10(flops), {"limit": LIMIT})[0]


def simulate(fam, rng, P=300):
    """Per-problem outcomes whose mean follows the law: problem i is solved at budget C when its
    latent u_i < acc(C) (monotone in C, like a real problem that stays solved)."""
    acc = true_curve(fam, C)
    u = rng.random(P)
    V = (u[None, :] < acc[:, None]).astype(float)
    return V, np.repeat(C[:, None], P, axis=1)


@pytest.mark.parametrize("fam", sorted(TRUTH))
def test_recovery_and_interval_coverage(fam):
    rng = np.random.default_rng(11)
    reps, hits, errs, noise = 25, {n: 0 for n in TRUTH[fam]}, [], []
    for _ in range(reps):
        V, F = simulate(fam, rng)
        fit = fit_curve(C, V.mean(axis=1), n_problems=V.shape[1], families=[fam], limit=LIMIT,
                        per_problem=(V, F), n_boot=80, seed=int(rng.integers(1 << 30)))
        assert fit.converged, fit.message
        ci = fit.conf_int()
        for n, v in TRUTH[fam].items():
            hits[n] += ci.loc[n, "ci_low"] <= v <= ci.loc[n, "ci_high"]
        errs.append(np.max(np.abs(fit.predict(C, warn=False) - true_curve(fam, C))))
        noise.append(np.max(np.abs(V.mean(axis=1) - true_curve(fam, C))))
    for n, h in hits.items():
        assert h / reps >= 0.8, f"{fam}.{n}: 95% interval covered the truth in {h}/{reps} replicates"
    # the fitted curve is closer to the law than the measured points are
    assert np.median(errs) <= np.median(noise)


def test_family_choice_by_extrapolation():
    rng = np.random.default_rng(2)
    V, F = simulate("power_floor", rng, P=2000)
    fit = fit_curve(C, V.mean(axis=1), n_problems=2000, strategy="pass_at_k")
    sel = fit.selection.set_index("family")
    assert set(sel.index) == {"power_floor", "logistic", "monkeys"}
    assert fit.family != "monkeys"  # a floor at 25 % error is not coverage-like
    assert sel.loc[fit.family, "heldout_rmse"] == pytest.approx(sel.heldout_rmse.min(), abs=0.002)
    assert np.isfinite(sel.aic).all()


def test_unconverged_is_flagged_and_warns():
    fit = fit_curve(C[:3], np.array([0.2, 0.3, 0.35]), n_problems=100, families=["power_floor"])
    assert not fit.converged and "3 point(s)" in fit.message
    with pytest.warns(ExtrapolationWarning, match="did not converge"):
        fit.predict([2e12])


def test_far_extrapolation_warns():
    acc = true_curve("power_floor", C)
    fit = fit_curve(C, acc, n_problems=500, families=["power_floor"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit.predict([C.max() * 5])  # inside 10x: silent
    with pytest.warns(ExtrapolationWarning, match="outside the fitted range"):
        fit.predict([C.max() * 100])
    assert fit.asymptote() == pytest.approx(0.75, abs=1e-3)


def test_bad_input():
    with pytest.raises(ValueError, match="positive"):
        fit_curve(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3, 0.4]), n_problems=10)
    with pytest.raises(ValueError, match="unknown curve family"):
        fit_curve(C, true_curve("power_floor", C), n_problems=10, families=["cubic"])


def test_curve_fit_speaks_law_fit_vocabulary():
    """predict(interval=True), conf_int(), summary() and a short repr, as scaling.fitlaw.LawFit."""
    rng = np.random.default_rng(4)
    V, F = simulate("power_floor_limit", rng)
    fit = fit_curve(C, V.mean(axis=1), n_problems=V.shape[1], families=["power_floor_limit"], limit=LIMIT,
                    per_problem=(V, F), n_boot=40, key={"model": "m", "method": "sample", "strategy": "majority"})
    acc, lo, hi = fit.predict(C, interval=True, warn=False)
    np.testing.assert_array_equal(acc, fit.predict(C, warn=False))
    assert np.all(lo <= acc + 1e-12) and np.all(acc <= hi + 1e-12) and np.all(hi - lo > 0)
    ci = fit.conf_int()
    assert list(ci.index) == ["A", "alpha"] and set(ci.method) == {"bootstrap"}
    assert (ci.ci_low <= ci.estimate).all() and (ci.estimate <= ci.ci_high).all()
    text = fit.summary()
    assert "m / sample / majority" in text and "1 - acc = (1 - limit) + A c^-alpha" in text and "chosen" in text
    assert repr(fit).startswith("CurveFit('m / sample / majority': power_floor_limit A=") and len(repr(fit)) < 120
    no_draws = fit_curve(C, V.mean(axis=1), n_problems=V.shape[1], families=["power_floor"])
    assert np.isnan(no_draws.predict(C, interval=True, warn=False)[1]).all()
    assert set(no_draws.conf_int().method) == {"none"}


def test_each_formula_serves_the_grid_and_the_batch_fit():
    """One formula per family: scoring parameter rows at shared points and replicate rows at their own
    points give the same values."""
    for name, fam in FAMILIES.items():
        p = np.array([[TRUTH[name][n] for n in fam.params]] * 3)
        logc, l10 = np.log(C / C.min()), np.log10(C)
        shared = fam.f(p, logc, l10, {"limit": LIMIT})
        own = fam.f(p, np.tile(logc, (3, 1)), np.tile(l10, (3, 1)), {"limit": LIMIT})
        np.testing.assert_array_equal(shared, own)
        assert shared.shape == (3, len(C))

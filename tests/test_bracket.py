"""The bracket of coverage far beyond the cached samples and its lower reading, the beta-binomial averaged
over the never-solvable share (scaling.extrapolate.bracket, scaling.extrapolate.zero_share)."""

import numpy as np
import pytest
from scipy import stats

from scaling import estimators as est
from scaling.extrapolate.bracket import bracket_check, coverage_bracket
from scaling.extrapolate.power_law import power_law_coverage
from scaling.extrapolate.priors import _grid, _Pairs
from scaling.extrapolate.selection import _thinned
from scaling.extrapolate.zero_share import fit_zero_share


def _world(P=400, zero=0.3, a=0.4, b=3.0, n=64, seed=0):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(P) < zero, 0.0, rng.beta(a, b, P))
    return p, rng.binomial(n, p), np.full(P, n)


def test_profile_point_is_the_closed_form_beta_binomial_likelihood():
    """At a fixed never-solvable share the fitted log-likelihood is the closed-form zero-inflated
    beta-binomial's at the fitted (a, b) (the logit grid integrates the Beta), and no (a, b) near the fit
    does better (brute force over a 9 x 9 grid around it)."""
    _, c, n = _world(seed=1)
    data = _Pairs(c, n, None, _grid(n.max()))
    share = 0.25
    fit = data.fit("beta", False, share=share)
    a, b = np.exp(fit.theta[:2])

    def loglik(a, b):
        bb = stats.betabinom.pmf(c, n, a, b)
        return float(np.log(share * (c == 0) + (1 - share) * bb).sum())

    assert fit.zero == share and fit.loglik == pytest.approx(loglik(a, b), abs=0.05)
    near = [loglik(a * fa, b * fb) for fa in np.linspace(0.9, 1.1, 9) for fb in np.linspace(0.9, 1.1, 9)]
    assert max(near) <= fit.loglik + 0.05


def test_zero_share_average_weights_are_the_normalised_profile_likelihood():
    p, c, n = _world(seed=2)
    zs = fit_zero_share(c, n)
    u = (c == 0).mean()
    shares = zs.check.share.to_numpy()
    assert shares[0] == 0.0 and shares[-1] == pytest.approx(u) and np.all(np.diff(shares) > 0)
    assert [f.zero for f in zs.candidates] == list(shares)
    ll = np.array([f.loglik for f in zs.candidates])
    assert zs.weights == pytest.approx(np.exp(ll - ll.max()) / np.exp(ll - ll.max()).sum())
    assert 0.15 < zs.zero < 0.45                                           # the world's share is 0.3
    truth = np.mean(1 - (1 - p) ** 4096)
    e, lo, hi = zs.interval(c, n, [4096])
    assert lo[0] < truth < hi[0] and lo[0] < e[0] < hi[0] and abs(e[0] - truth) < 0.06


def test_zero_share_with_every_problem_solved_is_one_beta_fit():
    _, c, n = _world(zero=0.0, a=3.0, b=1.0, seed=3)
    assert (c > 0).all()
    zs = fit_zero_share(c, n)
    assert list(zs.check.share) == [0.0] and list(zs.weights) == [1.0]
    with pytest.raises(ValueError, match="no problems"):
        fit_zero_share([], [])


def test_bracket_holds_both_readings_and_spans_their_intervals():
    """The estimate is the midpoint of the power law and the lower reading; the interval holds both; in
    a world with never-solvable problems and a heavy tail the truth at 64x lies inside it."""
    p, c, n = _world(P=600, zero=0.2, a=0.3, b=2.0, seed=4)
    pl = power_law_coverage(c, n, n_boot=100, seed=0)
    ks = [256, 4096]
    b = coverage_bracket(c, n, ks, pl)
    assert b.est == pytest.approx(0.5 * (b.upper + b.lower))
    assert b.upper == pytest.approx(pl(ks))
    assert (b.lo <= np.minimum(b.upper, b.lower)).all() and (np.maximum(b.upper, b.lower) <= b.hi).all()
    truth = [np.mean(1 - (1 - p) ** k) for k in ks]
    assert (b.lo <= truth).all() and (truth <= b.hi).all()


def test_bracket_check_by_hand():
    """The check is the midpoint of the power law fitted on the curve up to n/f and the lower reading
    fitted on the thinned histogram, both at n, minus the measured coverage at n."""
    _, c, n = _world(seed=5)
    f = 8
    jj, nn1, wts, _, _ = _thinned(c, n, f)
    lower = fit_zero_share(jj, nn1, wts).pass_at(jj, nn1, 64) @ wts / wts.sum()
    upper = power_law_coverage(c, n, 64 // f)(64)
    assert bracket_check(c, n, f, upper) == pytest.approx(0.5 * (upper + lower) - est.pass_at_k(n, c, 64).mean())

"""Per-problem models that predict a strategy's accuracy at many more samples than were cached, with
an interval for every extrapolated point.

A curve fitted to accuracy-versus-k knows only its own shape.  The cached solutions know more: how
often each problem is solved, how the votes split between answers, how the rewards of right and wrong
solutions are distributed.  These models use that to predict accuracy at ``k`` beyond the ``n`` cached
solutions per problem (say, 1024 or 4096 from 64).  Where k is within the cached solutions the exact
estimate is returned.

Coverage (pass@k)
    Success counts c_i ~ Binomial(n_i, p_i), p_i i.i.d. from a prior G; then
    ``E[pass@k | c_i] = E[1 - (1 - p)^k | c_i]`` under each problem's posterior.  Schaeffer et al.
    (2025) show that the aggregate power law ``-log pass@k ~ a k^-b`` of Brown et al. (2024) comes from
    the left tail of G (density ~ p^(b-1) near 0), and that fitting G is far more sample-efficient than
    fitting the aggregate curve; whether a never-solved problem is merely hard or impossible is,
    however, barely identified by n samples.  So :func:`fit_success_model` fits several G by marginal
    likelihood on a fine logit grid -- Beta (beta-binomial, the power-law tail), a two-Beta mixture, a
    logit-t (item-response difficulty), each with and without a point mass at p = 0 -- and weighs them
    by an out-of-sample check inside the data: refitted on n/4 of each problem's solutions, how well
    does each predict when the still-unsolved problems get solved by n?  The weights (check score times
    exp(-BIC/2)) and the whole procedure are bootstrapped over problems, so the interval carries the
    uncertainty of which tail fits, not only of its parameters, and widens when few problems are solved.
Majority voting
    Posterior draws of each problem's answer distribution: Dirichlet(counts + 1/2) over the observed
    answer classes plus an unseen-answer bucket (Good-Turing mass, never a winner) and the null answer
    (never a winner); vote counts at k drawn from the multinomial; ties split.  Converges to the
    Theorem-1 limit as k grows.
Weighted majority voting
    As majority, with each class's total reward ``count_j * mu_j + sqrt(count_j) * sigma * Z``, the class
    mean ``mu_j`` drawn from its normal posterior (shrunk toward the problem's right/wrong mean) and
    ``sigma`` the pooled within-class spread.
Best-of-n
    Decided by the upper tails of the reward distributions of right and wrong answers (see
    :func:`_best_of_n`): per-class locations with empirical-Bayes shrinkage, one pooled residual shape
    whose upper tail is a generalised Pareto fitted to the top 10 % of residuals (not clipped at the
    largest one seen), the tail index and the right/wrong scale ratio drawn from their posteriors,
    p_i from the success model.  An out-of-sample check (fit on n/4, predict best-of-n at n) measures
    the model's own extrapolation error inside the data; an error beyond the check's noise widens the
    interval in proportion to log k.

Voting and best-of-n are *anchored*: for problem i, ``pred_i(k) = exact_i(k_a) + model_i(k) - model_i(k_a)``
with ``exact_i(k_a)`` the exact subset estimate at ``k_a = n/2`` and the model supplying the increment.

Intervals are of the mean over the group's problems of their true (population) accuracy at k, at
nominal ``level`` (95 %).  ``benchmarks/bench_extrapolate.py`` measures their coverage and the errors
against the power-law anchor (:func:`power_law_anchor`) on 14 generated worlds and the shipped data.

>>> from scaling.synthetic import make_world, sample_table
>>> from scaling.matrix import to_matrices
>>> m = to_matrices(sample_table(make_world(200, seed=3), 64))[0]
>>> out = extrapolate(m, "pass_at_k", ks=[64, 1024])
>>> list(out.columns)  # doctest: +NORMALIZE_WHITESPACE
['strategy', 'k', 'flops', 'accuracy', 'ci_low', 'ci_high', 'se', 'extrapolated', 'plug_in', 'n_problems',
 'model', 'prior', 'check_error']
>>> bool(out.ci_low.iloc[1] <= out.accuracy.iloc[1] <= out.ci_high.iloc[1])
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .estimators import vote
from .matrix import class_mass

__all__ = ["SuccessPrior", "SuccessModel", "fit_success_model", "fit_beta_mixture", "extrapolate", "predict", "per_problem",
           "extrapolate_samples", "Extrapolation", "extrapolated_table", "power_law_anchor", "STRATEGIES",
           "FAMILIES"]

STRATEGIES = ("pass_at_k", "majority", "weighted_majority", "best_of_n")


# --------------------------------------------------------------------------------------------------
# Per-problem success rates: a prior on a logit grid, fitted by marginal likelihood
# --------------------------------------------------------------------------------------------------

FAMILIES = ("beta", "beta2", "logit_t")
_Z_LO, _Z_HI = -25.0, 15.0


def _grid(n_max: float) -> np.ndarray:
    """Logit-scale grid from -25 to 15: step 0.1, finer for large n so the likelihood is resolved."""
    h = min(0.1, 1.6 / np.sqrt(max(float(n_max), 1.0)))
    return np.arange(_Z_LO + h / 2, _Z_HI, h)


_LOGP_CACHE: dict = {}


def _log_p(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log p and log(1 - p) for p = sigmoid(z), accurate in both tails (cached per grid)."""
    key = (len(z), float(z[0]), float(z[-1]))
    if key not in _LOGP_CACHE:
        if len(_LOGP_CACHE) > 16:
            _LOGP_CACHE.clear()
        _LOGP_CACHE[key] = (-np.logaddexp(0.0, -z), -np.logaddexp(0.0, z))
    return _LOGP_CACHE[key]


def _softmax_grad(ell: np.ndarray, dell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid weights g = softmax(ell) and dg/dtheta (npar, G) from d ell/d theta."""
    g = np.exp(ell - ell.max())
    g /= g.sum()
    return g, g[None, :] * (dell - (dell * g[None, :]).sum(axis=1, keepdims=True))


def _family_weights(family: str, theta: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prior weights on the grid ``z`` (normalised over the grid) and their gradient in ``theta``.

    beta:    z = logit p with p ~ Beta(a, b), density in z proportional to p^a (1 - p)^b;
             theta = (log a, log b).  Near p = 0 this is the power law p^(a-1) of Schaeffer et al.
    beta2:   w Beta(a1, b1) + (1 - w) Beta(a2, b2); theta = (log a1, log b1, log a2, log b2, logit w)
    logit_t: z ~ Student-t_nu(mu, s) (item-response difficulty); theta = (mu, log s, log nu)
    """
    if family == "beta":
        a, b = np.exp(theta[0]), np.exp(theta[1])
        lp, lq = _log_p(z)
        return _softmax_grad(a * lp + b * lq, np.stack([a * lp, b * lq]))
    if family == "beta2":
        g1, d1 = _family_weights("beta", theta[0:2], z)
        g2, d2 = _family_weights("beta", theta[2:4], z)
        w = special.expit(theta[4])
        return w * g1 + (1 - w) * g2, np.concatenate([w * d1, (1 - w) * d2, (w * (1 - w) * (g1 - g2))[None, :]])
    if family == "logit_t":
        mu, s, nu = theta[0], np.exp(theta[1]), np.exp(theta[2])
        x = (z - mu) / s
        q = 1.0 + x * x / nu
        ell = -0.5 * (nu + 1.0) * np.log(q)
        d_mu = (nu + 1.0) * x / (s * nu * q)
        d_ls = (nu + 1.0) * x * x / (nu * q)
        d_lnu = nu * (-0.5 * np.log(q) + 0.5 * (nu + 1.0) * x * x / (nu * nu * q))
        return _softmax_grad(ell, np.stack([d_mu, d_ls, d_lnu]))
    raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")


_BOUNDS = {"beta": [(np.log(0.02), np.log(50.0)), (np.log(0.02), np.log(500.0))],
           "logit_t": [(_Z_LO, _Z_HI), (np.log(0.05), np.log(20.0)), (np.log(0.5), np.log(200.0))]}
_BOUNDS["beta2"] = _BOUNDS["beta"] * 2 + [(-8.0, 8.0)]
_STARTS = {"beta": [(np.log(0.4), np.log(2.0)), (0.0, 0.0), (np.log(2.0), np.log(0.5))],
           "beta2": [(np.log(0.3), np.log(5.0), np.log(2.0), np.log(0.7), 0.0),
                     (np.log(0.15), np.log(3.0), np.log(3.0), np.log(3.0), -0.5),
                     (np.log(0.6), np.log(20.0), np.log(1.5), np.log(0.5), 0.5)],
           "logit_t": [(-2.0, np.log(1.5), np.log(3.0)), (1.0, 0.0, np.log(10.0)),
                       (-1.0, np.log(3.0), np.log(1.5))]}


@dataclass
class SuccessPrior:
    """A fitted distribution of per-problem success rates p: weight ``zero`` on p = 0 (never solved) and
    the rest on a fixed grid ``z`` of logit p with weights ``grid_w`` from a parametric ``family``.

    The posterior of a problem with c successes in n is the prior times p^c (1 - p)^(n - c), so
    ``E[1 - (1 - p)^k | c, n]`` and its variance are sums over the grid."""

    family: str
    zero_atom: bool
    theta: np.ndarray
    z: np.ndarray
    grid_w: np.ndarray
    zero: float
    loglik: float
    n_params: int

    @property
    def label(self) -> str:
        return self.family + ("+zero" if self.zero_atom else "")

    def posterior(self, c, n) -> tuple[np.ndarray, np.ndarray]:
        """(P, G) posterior weights on the grid and (P,) posterior weight of p = 0."""
        c = np.asarray(c, float)[:, None]
        n = np.asarray(n, float)[:, None]
        lp, lq = _log_p(self.z)
        lw = c * lp[None, :] + (n - c) * lq[None, :] + np.log(np.maximum(self.grid_w, 1e-300))[None, :]
        lw = lw + (np.log1p(-self.zero) if self.zero < 1 else -np.inf)
        l0 = np.where(c[:, 0] == 0, np.log(self.zero) if self.zero > 0 else -np.inf, -np.inf)
        top = np.maximum(lw.max(axis=1), l0)
        w = np.exp(lw - top[:, None])
        w0 = np.exp(l0 - top)
        tot = w.sum(axis=1) + w0
        return w / tot[:, None], w0 / tot

    def moments(self, c, n, k: float) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of pass@k = 1 - (1 - p)^k, per problem."""
        c = np.atleast_1d(np.asarray(c, float))
        n = np.broadcast_to(np.asarray(n, float), c.shape)
        pairs, inv = np.unique(np.stack([c, n], axis=1), axis=0, return_inverse=True)
        w, _ = self.posterior(pairs[:, 0], pairs[:, 1])   # distinct (c, n) only
        f = -np.expm1(float(k) * _log_p(self.z)[1])
        m = w @ f
        v = np.maximum(w @ (f * f) - m * m, 0.0)
        inv = inv.ravel()
        return m[inv], v[inv]

    def pass_at(self, c, n, k) -> np.ndarray:
        """Posterior mean of pass@k per problem."""
        return self.moments(c, n, k)[0]

    def draw_posterior(self, c, n, m: int, rng: np.random.Generator) -> np.ndarray:
        """(P, m) stratified draws of each problem's p from its posterior."""
        w, w0 = self.posterior(c, n)
        cw = np.cumsum(np.concatenate([w0[:, None], w], axis=1), axis=1)
        u = (np.arange(m)[None, :] + rng.random((len(w), m))) / m * cw[:, -1:]
        idx = np.minimum((u[:, :, None] > cw[:, None, :]).sum(axis=2), w.shape[1])
        h = self.z[1] - self.z[0]
        zz = self.z[np.maximum(idx - 1, 0)] + (rng.random(idx.shape) - 0.5) * h
        return np.where(idx == 0, 0.0, special.expit(zz))


class _Pairs:
    """Success counts pooled into distinct (c, n) pairs with multiplicities, and the binomial likelihood
    of each pair on the grid (rows scaled by their maximum; ``top`` holds the log scale)."""

    def __init__(self, c: np.ndarray, n: np.ndarray, mult: np.ndarray | None, z: np.ndarray):
        c = np.asarray(c, float)
        n = np.asarray(n, float)
        self.inverse = None
        if mult is None:
            pairs, self.inverse, mult = np.unique(np.stack([c, n], axis=1), axis=0, return_inverse=True,
                                                  return_counts=True)
            self.inverse = self.inverse.ravel()
            c, n = pairs[:, 0], pairs[:, 1]
        self.c, self.n, self.mult = c, n, np.asarray(mult, float)
        lp, lq = _log_p(z)
        ll = (special.gammaln(n + 1) - special.gammaln(c + 1) - special.gammaln(n - c + 1))[:, None] + (
            c[:, None] * lp[None, :] + (n - c)[:, None] * lq[None, :])
        self.top = ll.max(axis=1)
        self.L = np.exp(ll - self.top[:, None])
        self.A = np.where(c == 0, np.exp(-self.top), 0.0)   # likelihood of a pair at p = 0
        self.z = z

    def nll(self, t: np.ndarray, family: str, zero_atom: bool, mult: np.ndarray | None = None):
        mult = self.mult if mult is None else mult
        npar = len(_BOUNDS[family])
        g, dg = _family_weights(family, t[:npar], self.z)
        w0 = special.expit(t[npar]) if zero_atom else 0.0
        Lg = self.L @ g
        lik = np.maximum((1 - w0) * Lg + w0 * self.A, 1e-300)
        val = -float((mult * (np.log(lik) + self.top)).sum())
        r = mult / lik
        grad = -(1 - w0) * (dg @ (self.L.T @ r))
        if zero_atom:
            grad = np.append(grad, -w0 * (1 - w0) * float(((self.A - Lg) * r).sum()))
        return val, grad

    def fit(self, family: str, zero_atom: bool, starts=None, mult: np.ndarray | None = None) -> SuccessPrior:
        bounds = _BOUNDS[family] + ([(-10.0, 5.0)] if zero_atom else [])
        if starts is None:
            starts = [np.append(s, -3.0) if zero_atom else np.asarray(s) for s in _STARTS[family]]
        best = None
        for s in starts:
            r = optimize.minimize(self.nll, np.asarray(s, float), args=(family, zero_atom, mult), jac=True,
                                  method="L-BFGS-B", bounds=bounds, options={"maxiter": 400})
            if best is None or r.fun < best.fun:
                best = r
        t = best.x
        npar = len(_BOUNDS[family])
        g, _ = _family_weights(family, t[:npar], self.z)
        return SuccessPrior(family, zero_atom, t, self.z, g, float(special.expit(t[npar])) if zero_atom else 0.0,
                            -float(best.fun), npar + int(zero_atom))


def _thinned(c: np.ndarray, n: np.ndarray, frac: int):
    """Success counts in a random n/frac of each problem's solutions, averaged over every such subset.

    Returns pooled pairs (j, n1, weight) of the expected histogram, (P, n1 + 1) per-problem
    hypergeometric probabilities of j (columns beyond a problem's own n1 are 0) and the pooled pair
    each (problem, j) falls in."""
    n1 = n // frac
    J = int(n1.max()) + 1
    j = np.arange(J)[None, :]
    cc, nn, mm = c[:, None].astype(float), n[:, None].astype(float), n1[:, None].astype(float)
    ok = (j <= cc) & (mm - j <= nn - cc) & (j <= mm)
    lh = (_lbinom(cc, j) + _lbinom(nn - cc, mm - j) - _lbinom(nn, mm))
    H = np.where(ok, np.exp(np.where(ok, lh, 0.0)), 0.0)
    keys = np.stack([np.broadcast_to(j, H.shape).ravel(), np.broadcast_to(mm, H.shape).ravel()], axis=1)
    keep = H.ravel() > 1e-12
    uk, inv = np.unique(keys[keep], axis=0, return_inverse=True)
    wts = np.bincount(inv.ravel(), weights=H.ravel()[keep], minlength=len(uk))
    pidx = np.zeros(H.size, dtype=np.int64)
    pidx[keep] = inv.ravel()
    return uk[:, 0], uk[:, 1], wts, np.where(keep.reshape(H.shape), H, 0.0), pidx.reshape(H.shape)


def _lbinom(a, b):
    return special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)


def _check_data(c: np.ndarray, n: np.ndarray, H: np.ndarray, frac: int) -> dict:
    """What the out-of-sample check needs from the data, per problem (see :func:`_check_scores`):
    P(no success in a random n1-subset) ``p0`` and, given that, the distribution ``Q`` (P, m_max) of the
    position among the remaining m = n - n1 solutions of the first success (all c successes lie there)."""
    n1 = n // frac
    m = n - n1
    s = np.arange(1, int(m.max()) + 1)[None, :]
    ci = c.astype(float)[:, None]
    mm = m[:, None].astype(float)
    ok = (ci >= 1) & (mm - s >= ci - 1)
    top, bot = np.where(ok, mm - s, 1.0), np.where(ok, ci - 1, 0.0)
    Q = np.where(ok, np.exp(_lbinom(top, bot) - _lbinom(mm, np.minimum(ci, mm))), 0.0)
    return {"p0": H[:, 0], "Q": Q, "n1": n1, "m": m, "solved": c > 0}


def _check_scores(prior: SuccessPrior, d: dict, rows: np.ndarray | None = None) -> tuple[float, float]:
    """Out-of-sample check of a prior fitted on n1 = n/frac of each problem's solutions.

    For a problem not yet solved in its first n1 solutions the prior predicts when it is first solved
    among the remaining m = n - n1 (or not by n).  Scored, averaged over every choice of the n1
    solutions: the log predictive probability of that time (``time``) and the predicted minus observed
    pass@n of the whole set.  ``rows`` selects (resampled) problems."""
    if rows is not None:
        d = {k: v[rows] for k, v in d.items()}
    lq = _log_p(prior.z)[1]
    lp = _log_p(prior.z)[0]
    M = d["Q"].shape[1]
    s = np.arange(1, M + 1)
    logpt = np.zeros((len(d["p0"]), M))
    p_cens = np.zeros(len(d["p0"]))
    for n1, m in {(int(a), int(b)) for a, b in zip(d["n1"], d["m"], strict=True)}:
        sel = (d["n1"] == n1) & (d["m"] == m)
        w, w0 = prior.posterior(np.array([0.0]), np.array([float(n1)]))
        pt = (w[0][None, :] * np.exp((s[:m, None] - 1) * lq[None, :] + lp[None, :])).sum(axis=1)
        logpt[np.ix_(sel, np.arange(m))] = np.log(np.maximum(pt, 1e-300))[None, :]
        p_cens[sel] = float((w[0] * np.exp(m * lq)).sum() + w0[0])
    p0 = d["p0"]
    score = float((p0 * ((d["Q"] * logpt).sum(axis=1) + (~d["solved"]) * np.log(np.maximum(p_cens, 1e-300)))).sum())
    pred_n = 1.0 - p0 * p_cens
    return score, float(pred_n.mean() - d["solved"].mean())


@dataclass
class SuccessModel:
    """Candidate priors for per-problem success rates, their weights, the out-of-sample check that
    weighed them, and bootstrap replicates of the whole procedure (see :func:`fit_success_model`).

    With replicates, predictions are bootstrap-aggregated: averaged over the replicates' weighted
    candidates, so they carry the uncertainty of which prior fits, not only of its parameters."""

    candidates: list
    weights: np.ndarray
    check: pd.DataFrame
    boot: list = field(default_factory=list)

    @property
    def zero(self) -> float:
        """Weight of never-solvable problems (p = 0)."""
        return float(sum(w * m.zero for m, w in zip(self.candidates, self.weights, strict=True)))

    @property
    def label(self) -> str:
        """The candidate of largest weight on the full data."""
        return self.candidates[int(np.argmax(self.weights))].label

    def _replicates(self) -> list:
        return self.boot or [(self.candidates, self.weights)]

    def _components(self, c, n, k: float):
        """(weight, per-problem mean, per-problem variance) of every live (replicate, candidate)."""
        reps = self._replicates()
        for fits, wts in reps:
            for mod, w in zip(fits, wts, strict=True):
                if w > 0:
                    yield (w / len(reps), *mod.moments(c, n, k))

    def moments(self, c, n, k) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of pass@k per problem, averaged over candidates and replicates."""
        mean = np.zeros(len(np.atleast_1d(c)))
        sq = np.zeros_like(mean)
        for w, mu, v in self._components(c, n, float(k)):
            mean += w * mu
            sq += w * (v + mu * mu)
        return mean, np.maximum(sq - mean * mean, 0.0)

    def pass_at(self, c, n, k) -> np.ndarray:
        """Posterior mean of pass@k per problem."""
        return self.moments(c, n, k)[0]

    def draw_posterior(self, c, n, m: int, rng: np.random.Generator) -> np.ndarray:
        """(P, m) draws of each problem's p: draw j from the posterior of a replicate and candidate
        picked at random by weight (so the draws carry the uncertainty of the prior too)."""
        reps = self._replicates()
        out = np.empty((len(np.atleast_1d(c)), m))
        pick = rng.integers(0, len(reps), m)
        for r in np.unique(pick):
            cols = np.flatnonzero(pick == r)
            fits, wts = reps[r]
            live = [(f, w) for f, w in zip(fits, wts, strict=True) if w > 0]
            which = rng.choice(len(live), size=len(cols), p=np.array([w for _, w in live]) / sum(w for _, w in live))
            for j in np.unique(which):
                sub = cols[which == j]
                out[:, sub] = live[j][0].draw_posterior(c, n, len(sub), rng)
        return out

    def interval(self, c, n, ks, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point estimate and ``level`` interval of the mean pass@k over these problems, at each k.

        Given the data, the truth is a mixture over bootstrap replicates and their weighted candidates
        (uncertainty of the prior's shape and parameters) of normals with mean ``mean_i E[pass@k | c_i]``
        and variance ``sum_i Var[pass@k | c_i] / P^2`` (each problem's own success rate is uncertain
        given its c_i).  The estimate is the mixture's mean."""
        P = len(np.atleast_1d(c))
        est, lo, hi = [], [], []
        for k in np.atleast_1d(ks):
            cw, cm, cv = (np.array(x) for x in zip(*[(w, mu.mean(), v.sum() / P ** 2)
                                                    for w, mu, v in self._components(c, n, float(k))],
                                                  strict=True))
            est.append(float((cw * cm).sum() / cw.sum()))
            lo_, hi_ = _mixture_quantiles(cw, cm, np.sqrt(cv), [(1 - level) / 2, (1 + level) / 2])
            lo.append(lo_)
            hi.append(hi_)
        return np.array(est), np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def _mixture_quantiles(w: np.ndarray, mu: np.ndarray, sd: np.ndarray, qs) -> list[float]:
    """Quantiles of the normal mixture sum_j w_j N(mu_j, sd_j^2) (sd_j may be 0)."""
    w = np.asarray(w, float) / np.sum(w)
    sd = np.maximum(np.asarray(sd, float), 1e-9)
    x = np.linspace((mu - 6 * sd).min(), (mu + 6 * sd).max(), 4001)
    F = (w[None, :] * special.ndtr((x[:, None] - mu[None, :]) / sd[None, :])).sum(axis=1)
    return [float(np.interp(q, F, x)) for q in qs]


def fit_success_model(c, n, *, families=FAMILIES, zero_atoms=(False, True), frac: int = 4, n_boot: int = 30,
                      seed: int = 0) -> SuccessModel:
    """Fit the distribution of per-problem success rates from success counts ``c`` of ``n`` samples.

    Model: c_i ~ Binomial(n_i, p_i), p_i i.i.d. from a prior with a point mass ``zero`` at p = 0
    (problems never solved) and otherwise one of ``families`` on the logit scale (Beta, the power-law
    left tail p^(a-1) that Schaeffer et al. (2025) show produces the power law of Brown et al. (2024);
    a two-Beta mixture; a logit-t).  Each candidate is fitted by marginal likelihood (beta-binomial,
    integrated on a fine logit grid); problems with equal (c, n) are pooled, so the cost does not grow
    with the number of problems.

    What lies below p = 1/n is barely identified by n samples, so candidates are weighed by how well
    they extrapolate *inside the data*: each is refitted on n/``frac`` of every problem's solutions
    (averaged over every choice of those solutions, of which the first n/frac is one, so the check does
    not depend on the order of the samples) and scored by the log predictive probability of when each
    still-unsolved problem is first solved among the rest.  Weights: ``exp(S_m - BIC_m / 2)`` with S_m
    that out-of-sample log score, i.e. the in-sample evidence times the extrapolation check.  The table
    ``check`` reports, per candidate, the log-likelihood, BIC, the check's score and its predicted minus
    observed pass@n, and the weight.

    ``n_boot`` bootstrap replicates repeat the whole procedure (every candidate not ruled out by the
    full data, warm-started, its check and the weights) on problems resampled with replacement.  The
    model's predictions average over the replicates (bagging) and :meth:`SuccessModel.interval` mixes
    them, so the interval carries the uncertainty of which candidate fits, not only of its parameters.

    Assumptions: problems independent, samples i.i.d. within a problem (so counts are sufficient); the
    tail below 1/n continues as the weighted candidates extrapolate it, which the in-data check tests
    one factor of ``frac`` at a time.

    >>> rng = np.random.default_rng(0)
    >>> p = rng.beta(0.4, 2.0, 300); c = rng.binomial(64, p)
    >>> model = fit_success_model(c, np.full(300, 64), n_boot=0)
    >>> bool(abs(model.pass_at(c, np.full(300, 64), 1024).mean() - np.mean(1 - (1 - p) ** 1024)) < 0.05)
    True
    """
    c = np.asarray(c, int)
    n = np.asarray(n, int)
    if len(c) == 0:
        raise ValueError("fit_success_model: no problems")
    P = len(c)
    data = _Pairs(c, n, None, _grid(n.max()))
    any_zero = bool((c == 0).any())
    specs = [(f, za) for f in families for za in zero_atoms if not (za and not any_zero)]
    thin = None
    if frac > 1 and (n // frac).min() >= 2 and (c > 0).any():
        jj, nn1, wts, H, pidx = _thinned(c, n, frac)
        thin = _Pairs(jj, nn1, wts, _grid(nn1.max()))
        chk = _check_data(c, n, H, frac)
    full = _select(data, thin, specs, len(c), chk if thin else None)
    cands, w, bic, score, err, thin_fits, keep = full
    check = pd.DataFrame({"prior": [m.label for m in cands], "loglik": [m.loglik for m in cands], "bic": bic,
                          "check_score": score if thin else np.nan, "check_error": err, "weight": w,
                          "zero": [m.zero for m in cands]})
    model = SuccessModel(cands, w, check)
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        # the whole procedure again on problems resampled with replacement: refits (warm-started) of
        # every candidate and of its check, and the weights they earn
        idx = rng.integers(0, P, P)
        mult = np.bincount(data.inverse[idx], minlength=len(data.mult)).astype(float)
        tmult = None
        if thin is not None:
            tmult = np.bincount(pidx[idx].ravel(), weights=H[idx].ravel(), minlength=len(thin.mult))
        b = _select(data, thin, specs, P, chk if thin else None, rows=idx, mult=mult, tmult=tmult,
                    starts=cands, tstarts=thin_fits, starts_w=keep)
        model.boot.append((b[0], b[1]))
    return model


def _select(data: _Pairs, thin: _Pairs | None, specs, P: int, chk: dict | None, rows=None, mult=None, tmult=None,
            starts=None, tstarts=None, starts_w=None):
    """Fit every candidate, check it out of sample, weigh it: exp(check score - BIC / 2).  With ``starts``
    (a bootstrap replicate) candidates whose ``starts`` weight is 0 are not refitted and keep weight 0."""
    live = [True] * len(specs) if starts is None else [w > 0 for w in starts_w]
    fits = [data.fit(f, za, mult=mult, starts=None if starts is None else [starts[i].theta]) if live[i] else starts[i]
            for i, (f, za) in enumerate(specs)]
    bic = np.array([-2 * m.loglik + m.n_params * np.log(P) for m in fits])
    score = np.zeros(len(fits))
    err = np.full(len(fits), np.nan)
    tfits = []
    if thin is not None:
        for i, (f, za) in enumerate(specs):
            if not live[i]:
                tfits.append(tstarts[i])
                continue
            tfits.append(thin.fit(f, za, mult=tmult, starts=None if tstarts is None else [tstarts[i].theta]))
            score[i], err[i] = _check_scores(tfits[-1], chk, rows)
    logw = np.where(live, score - bic / 2, -np.inf)
    w = np.exp(logw - logw.max())
    keep = logw > logw.max() - 10.0  # candidates a bootstrap replicate refits
    w = np.where(w > 1e-3, w, 0.0)
    return fits, w / w.sum(), bic, score, err, tfits, keep


def fit_beta_mixture(c: np.ndarray, n: np.ndarray, max_components: int = 2) -> SuccessModel:
    """Compatibility wrapper: :func:`fit_success_model` without bootstrap (``max_components`` 1 drops the
    two-Beta mixture)."""
    fams = FAMILIES if max_components >= 2 else tuple(f for f in FAMILIES if f != "beta2")
    return fit_success_model(c, n, families=fams, n_boot=0)


# --------------------------------------------------------------------------------------------------
# Helpers over a SampleMatrix
# --------------------------------------------------------------------------------------------------

def _arrays(m) -> dict:
    codes = np.asarray(m.codes)
    valid = codes != -2
    n = valid.sum(axis=1)
    correct = np.asarray(m.correct, bool) & valid
    c = correct.sum(axis=1)
    reward = None if getattr(m, "reward", None) is None else np.asarray(m.reward, float)
    flops = np.asarray(m.flops, float)
    per_sample = np.where(valid, flops, 0.0).sum(axis=1) / np.maximum(n, 1)
    prompt = np.asarray(getattr(m, "prompt_flops", np.zeros(len(n))), float)
    return {"codes": codes, "valid": valid, "n": n, "correct": correct, "c": c, "reward": reward,
            "per_sample_flops": per_sample, "prompt_flops": prompt,
            "class_value": np.asarray(m.class_value, float)}


def _exact_at_n(a: dict, strategy: str) -> np.ndarray:
    """The strategy's value using all n_i cached solutions of each problem (ties split)."""
    codes, value = a["codes"], a["class_value"]
    n_cls = value.shape[1]
    if strategy == "pass_at_k":
        return (a["c"] > 0).astype(float)
    if strategy in ("majority", "weighted_majority"):
        counts = class_mass(codes, None, n_cls)
        present = counts > 0
        mass = counts if strategy == "majority" else np.where(present, class_mass(codes, a["reward"], n_cls), 0.0)
        return vote(mass, present, value)
    if strategy == "best_of_n":
        r = np.where(a["valid"] & np.isfinite(a["reward"]), a["reward"], -np.inf)
        top = r.max(axis=1, keepdims=True)
        tied = (r == top) & np.isfinite(r)
        nt = tied.sum(axis=1)
        return np.where(nt > 0, (tied & a["correct"]).sum(axis=1) / np.maximum(nt, 1), 0.0)
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

def _dirichlet_draws(counts: np.ndarray, extra: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """(P, m, C+1) Dirichlet(counts + 1/2 on observed classes, extra on the unseen bucket) draws."""
    alpha = np.concatenate([np.where(counts > 0, counts + 0.5, 0.0), extra[:, None]], axis=1)
    g = rng.standard_gamma(np.broadcast_to(np.maximum(alpha, 1e-300)[:, None, :],
                                           (alpha.shape[0], m, alpha.shape[1])))
    g = np.where(alpha[:, None, :] > 0, g, 0.0)
    return g / g.sum(axis=2, keepdims=True)


def _voting(a: dict, ks_all: np.ndarray, weighted: bool, m: int, rng: np.random.Generator) -> np.ndarray:
    codes, value = a["codes"], a["class_value"]
    n_cls = value.shape[1]
    P = len(codes)
    counts = class_mass(codes, None, n_cls)
    n_null = (codes == -1).sum(axis=1).astype(float)
    singletons = (counts == 1).sum(axis=1).astype(float)
    unseen = np.maximum(singletons, 0.5)  # Good-Turing mass of answers not seen yet
    can_win = np.concatenate([counts > 0, np.zeros((P, 1), bool)], axis=1)
    val = np.concatenate([value, np.zeros((P, 1))], axis=1)
    if weighted:  # pooled quantities over every problem
        r = a["reward"]
        sums = class_mass(codes, r, n_cls)
        mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        sq = class_mass(codes, r ** 2, n_cls)
        within = sq - counts * mean ** 2
        dof = (counts - 1).clip(0).sum()
        sigma = float(np.sqrt(max(within[counts > 1].sum(), 0.0) / max(dof, 1.0))) if dof > 0 else 0.1
        sigma = max(sigma, 1e-6)
        # posterior of each class mean: shrink toward the mean of its correctness group
        grp = value > 0.5
        ok_r = a["valid"] & np.isfinite(r)
        gm_right = np.nanmean(np.where(a["correct"] & ok_r, r, np.nan)) if (a["correct"] & ok_r).any() else 0.5
        gm_wrong = np.nanmean(np.where(~a["correct"] & ok_r, r, np.nan)) if (~a["correct"] & ok_r).any() else 0.5
        prior = np.where(grp, gm_right, gm_wrong)
        tau2 = max(np.nanvar(np.where(counts > 0, mean, np.nan)) - sigma ** 2 / max(np.mean(counts[counts > 0]),
                                                                                       1), 1e-4)
        post_var = 1.0 / (1.0 / tau2 + counts / sigma ** 2)
        post_mean = post_var * (prior / tau2 + counts * mean / sigma ** 2)
    out = np.empty((P, m, len(ks_all)))
    step = max(1, 1_500_000 // (m * (n_cls + 1)))  # problems per block: bounded memory for any P
    for lo in range(0, P, step):
        sl = slice(lo, min(P, lo + step))
        # null answers and unseen answers share the bucket that never wins
        draws = _dirichlet_draws(counts[sl], n_null[sl] + unseen[sl], m, rng)  # (p, m, C+1)
        if weighted:
            mu = post_mean[sl][:, None, :] + np.sqrt(post_var[sl])[:, None, :] * rng.standard_normal(
                (draws.shape[0], m, n_cls))
            mu = np.concatenate([mu, np.zeros((draws.shape[0], m, 1))], axis=2)
        for j, k in enumerate(ks_all):
            cnt = rng.multinomial(int(k), draws)  # (p, m, C+1)
            if weighted:
                mass = cnt * mu + np.sqrt(cnt) * sigma * rng.standard_normal(cnt.shape)
            else:
                mass = cnt.astype(float)
            mass = np.where(cnt > 0, mass, -np.inf)
            out[sl, :, j] = vote(mass, can_win[sl][:, None, :], val[sl][:, None, :])
    return out


def _logit_rewards(r: np.ndarray) -> np.ndarray:
    fin = np.isfinite(r)
    if fin.any() and r[fin].min() >= 0.0 and r[fin].max() <= 1.0:
        return special.logit(np.clip(r, 1e-6, 1 - 1e-6))
    return r


class _Shape:
    """Standardised within-class residual distribution G, pooled over every problem and class: the
    empirical distribution in the body, a generalised Pareto upper tail above its ``q``-quantile (fitted by
    maximum likelihood to the exceedances: xi = 0 is the exponential tail of logistic or Gumbel noise,
    xi > 0 a heavy tail, xi < 0 a bounded one) and an exponential lower tail below its (1-q)-quantile.
    The upper tail is what decides best-of-k at large k, so it is modelled, not clipped at the largest
    residual seen.  ``xi_se`` is the standard error of the fitted tail index."""

    def __init__(self, e: np.ndarray, q: float = 0.9):
        e = np.sort(np.asarray(e, float))
        self.e = e
        self.y = (np.arange(1, len(e) + 1) - 0.5) / len(e)
        self.u = float(np.quantile(e, q))
        self.pu = float(np.interp(self.u, e, self.y))
        exc = e[e > self.u] - self.u
        self.xi, self.sigma = _fit_gpd(exc)
        self.xi_se = (1.0 + abs(self.xi)) / np.sqrt(max(exc.size, 1))
        self.lo = float(np.quantile(e, 1 - q))
        self.plo = float(np.interp(self.lo, e, self.y))
        below = self.lo - e[e < self.lo]
        self.beta = float(below.mean()) if below.size else 1.0

    def with_xi(self, xi: float) -> _Shape:
        """The same body with another tail index (the tail's scale kept)."""
        out = object.__new__(_Shape)
        out.__dict__.update(self.__dict__)
        out.xi = float(xi)
        return out

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        out = np.interp(x, self.e, self.y)
        up = x > self.u
        if up.any():
            out[up] = 1.0 - (1.0 - self.pu) * self._gpd_sf(x[up] - self.u)
        dn = x < self.lo
        if dn.any():
            out[dn] = self.plo * np.exp(-(self.lo - x[dn]) / self.beta)
        return out

    def _gpd_sf(self, y: np.ndarray) -> np.ndarray:
        if abs(self.xi) < 1e-6:
            return np.exp(-y / self.sigma)
        t = np.maximum(1.0 + self.xi * y / self.sigma, 0.0)
        return t ** (-1.0 / self.xi)

    def upper(self, tail: float) -> float:
        """x with 1 - G(x) = ``tail`` (``tail`` below 1 - pu)."""
        r = tail / (1.0 - self.pu)
        if abs(self.xi) < 1e-6:
            return self.u - self.sigma * np.log(r)
        return self.u + self.sigma / self.xi * (r ** -self.xi - 1.0)

    def lower(self, tail: float) -> float:
        """x with G(x) = ``tail`` (``tail`` below the lower threshold's level)."""
        return self.lo + self.beta * np.log(tail / self.plo)


def _fit_gpd(y: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood generalised Pareto (shape xi in [-0.45, 0.6], scale) of exceedances ``y``."""
    if y.size < 20:
        return 0.0, (float(max(y.mean(), 1e-3)) if y.size else 1.0)

    def nll(t):
        xi, s = t[0], np.exp(t[1])
        if abs(xi) < 1e-6:
            return y.size * np.log(s) + y.sum() / s
        a = 1.0 + xi * y / s
        if (a <= 0).any():
            return 1e12
        return y.size * np.log(s) + (1.0 + 1.0 / xi) * np.log(a).sum()

    best = None
    for xi0 in (-0.1, 0.0, 0.2):
        r = optimize.minimize(nll, [xi0, np.log(y.mean())], method="Nelder-Mead",
                              options={"xatol": 1e-5, "fatol": 1e-8, "maxiter": 500})
        if best is None or r.fun < best.fun:
            best = r
    return float(np.clip(best.x[0], -0.45, 0.6)), float(np.exp(best.x[1]))


_GH_T, _GH_W = np.polynomial.hermite.hermgauss(5)
_GH9_T, _GH9_W = np.polynomial.hermite.hermgauss(9)
_XI_PRIOR_SD = 0.2       # tail index of reward noise: a priori within about +-0.4 of exponential
_LOG_SCALE_PRIOR_SD = 0.15  # right vs wrong noise scale: a priori within about +-30 %


def _best_of_n(a: dict, ks_all: np.ndarray, mix, m: int, rng: np.random.Generator,
               grid_size: int = 1536) -> np.ndarray:
    """Best-of-k per problem and posterior draw, (P, m, K), from a per-answer-class reward model.

    Rewards are modelled on the logit scale when they lie in [0, 1] (sigmoid scores, PRM aggregates) and
    as given otherwise.  A solution of answer class j of problem i has reward ``l_ij + s * e`` with ``e``
    from one pooled standardised shape G (:class:`_Shape`: empirical body, generalised-Pareto upper
    tail) and a pooled scale s for wrong classes, ``s * exp(r)`` for right ones.  Wrong classes (null
    answers are one more): probability q_ij (posterior mean of Dirichlet(counts + 1/2) plus a
    Good-Turing share of unseen classes, placed at quantiles of the between-class spread) and location
    l_ij shrunk toward the problem's wrong mean; its posterior uncertainty is integrated
    (Gauss-Hermite), not folded into the scale, since a wider scale would fatten the tail.  The right
    class: location shrunk toward a regression on the wrong mean (empirical Bayes, so unsolved problems
    borrow from solved ones).  Each posterior draw takes p_i from the success model ``mix``, the right
    location from its posterior, and the tail index xi and log scale ratio r from their posteriors
    (normal priors centred on an exponential tail and equal scales, sd 0.2 and 0.15): at large k the
    answer hinges on them, so their uncertainty must reach the interval.  Then, with
    H = p F_R + (1 - p) F_W, ``P(best of k is right) = sum_cells (H(t+1)^k - H(t)^k) * p dF_R / dH`` on a
    uniform grid, the wrong mixture computed as a convolution of its binned locations with G.
    """
    from scipy.signal import fftconvolve

    z = _logit_rewards(a["reward"])
    ok = a["valid"] & np.isfinite(z)
    P = z.shape[0]
    codes = np.where(ok, a["codes"], -2)
    codes = np.where(codes == -1, a["class_value"].shape[1], codes)   # null answers: one extra class
    C = a["class_value"].shape[1] + 1
    value = np.concatenate([a["class_value"], np.zeros((P, 1))], axis=1)
    cnt = class_mass(codes, None, C)
    s1 = class_mass(codes, np.where(ok, z, 0.0), C)
    mean = np.divide(s1, cnt, out=np.zeros_like(s1), where=cnt > 0)
    dev = np.where(ok & (codes >= 0), z - np.take_along_axis(mean, np.maximum(codes, 0), axis=1), np.nan)
    is_right = value > 0.5
    ss = class_mass(codes, np.nan_to_num(dev) ** 2, C)

    def pooled(mask):
        dof = ((cnt - 1).clip(0) * mask).sum()
        return (float(np.sqrt((ss * mask).sum() / dof)) if dof > 0 else np.nan), float(dof)

    (s_w, dof_w), (s_r, dof_r) = pooled(~is_right), pooled(is_right)
    if not np.isfinite(s_w) or s_w <= 0:
        s_w, dof_w = (float(np.nanstd(z[ok])) or 1.0), 0.0
    if not np.isfinite(s_r) or s_r <= 0:
        s_r, dof_r = s_w, 0.0
    # the shared residual shape
    cls_of = np.take_along_axis(cnt, np.maximum(codes, 0), axis=1)
    right_sol = np.take_along_axis(is_right, np.maximum(codes, 0), axis=1)
    use = ok & (codes >= 0) & (cls_of >= 3)
    scale_sol = np.where(right_sol, s_r, s_w) * np.sqrt(np.maximum(cls_of - 1, 1) / np.maximum(cls_of, 1))
    e = (dev / scale_sol)[use]
    if e.size < 50:
        e = rng.logistic(0.0, np.sqrt(3) / np.pi, 4000)
    kurt = float(np.mean(((e - e.mean()) / e.std()) ** 4)) if e.size >= 50 else 4.2
    shape = _Shape((e - e.mean()) / e.std())
    # posteriors of the tail index and of the log ratio of the right to the wrong scale (normal approx.)
    xi_v = 1.0 / (1.0 / _XI_PRIOR_SD ** 2 + 1.0 / shape.xi_se ** 2)
    xi_m = xi_v * shape.xi / shape.xi_se ** 2
    r_hat = np.log(s_r / s_w)
    r_se2 = (kurt - 1.0) / 4.0 * (1.0 / max(dof_r, 1.0) + 1.0 / max(dof_w, 1.0)) if dof_r > 0 else 1e6
    r_v = 1.0 / (1.0 / _LOG_SCALE_PRIOR_SD ** 2 + 1.0 / r_se2)
    r_m = r_v * r_hat / r_se2
    s_mid = np.sqrt(s_r * s_w) if dof_r > 0 else s_w

    # wrong classes: problem wrong mean, between-class spread tau_w, shrunk class locations
    wr = (~is_right) & (cnt > 0)
    n_wrong = (cnt * wr).sum(axis=1)
    rt = is_right & (cnt > 0)
    n_r = (cnt * rt).sum(axis=1)
    mean_r = np.divide((s1 * rt).sum(axis=1), n_r, out=np.full(P, np.nan), where=n_r > 0)
    has_w = n_wrong > 0
    glob_w = float((s1 * wr).sum() / max(n_wrong.sum(), 1))
    m_w = np.where(has_w, (s1 * wr).sum(axis=1) / np.maximum(n_wrong, 1), glob_w)
    # a problem with no wrong solution yet: its wrong mean from a regression on its right mean (problems
    # differ in reward level, so the global wrong mean would misplace the wrong answers still to come)
    both = has_w & (n_r > 0)
    extra_v = np.zeros(P)
    if both.sum() >= 5 and (~has_w & (n_r > 0)).any():
        wb = 1.0 / (1.0 / n_wrong[both] + 1.0 / n_r[both])
        Xb = np.stack([np.ones(both.sum()), mean_r[both]], axis=1)
        cb = np.linalg.lstsq(Xb * np.sqrt(wb)[:, None], m_w[both] * np.sqrt(wb), rcond=None)[0]
        res_v = max(float(np.average((m_w[both] - Xb @ cb) ** 2, weights=wb)), 1e-4)
        fill = ~has_w & (n_r > 0)
        m_w = np.where(fill, cb[0] + cb[1] * np.nan_to_num(mean_r), m_w)
        extra_v = np.where(fill, res_v, 0.0)
    d2 = (mean - m_w[:, None]) ** 2 - s_w ** 2 / np.maximum(cnt, 1)
    tau_w2 = max(float((d2 * cnt * wr).sum() / max((cnt * wr).sum(), 1)), 1e-4)
    v_obs = s_w ** 2 / np.maximum(cnt, 1)
    post_v = 1.0 / (1.0 / tau_w2 + 1.0 / v_obs)
    loc_w = post_v * (m_w[:, None] / tau_w2 + mean / v_obs)
    singles = ((cnt == 1) & wr).sum(axis=1)
    unseen = np.maximum(singles, 0.5)
    alpha = np.where(wr, cnt + 0.5, 0.0)
    tot = alpha.sum(axis=1) + unseen
    q = alpha / tot[:, None]
    q_unseen = unseen / tot
    # atoms of the wrong mixture, (P, A): seen class x Gauss-Hermite node of its location's posterior,
    # and unseen classes at Gauss-Hermite nodes of N(m_w, tau_w^2) (their spread of locations matters:
    # at large k many new wrong answers appear and the most convincing of them competes)
    at_loc = np.concatenate([(loc_w[:, :, None] + np.sqrt(2 * post_v)[:, :, None] * _GH_T[None, None, :]
                              ).reshape(P, -1),
                             m_w[:, None] + np.sqrt(2 * (tau_w2 + extra_v))[:, None] * _GH9_T[None, :]], axis=1)
    at_w = np.concatenate([(q[:, :, None] * (_GH_W / np.sqrt(np.pi))[None, None, :]).reshape(P, -1),
                           q_unseen[:, None] * (_GH9_W / np.sqrt(np.pi))[None, :]], axis=1)

    # right class: location per problem by empirical Bayes on the wrong mean
    has = n_r > 0
    reg = has & has_w  # problems where both means are observed
    if reg.sum() >= 5:
        wts = n_r[reg] / (1.0 + n_r[reg])
        X = np.stack([np.ones(reg.sum()), m_w[reg]], axis=1)
        coef = np.linalg.lstsq(X * np.sqrt(wts)[:, None], mean_r[reg] * np.sqrt(wts), rcond=None)[0]
        resid = mean_r[reg] - X @ coef
        tau_r2 = max(float(np.average(resid ** 2 - s_r ** 2 / n_r[reg], weights=wts)), 1e-3)
    elif reg.any():
        coef = np.array([float(np.mean(mean_r[reg] - m_w[reg])), 1.0])
        tau_r2 = 1.0
    else:
        coef = np.array([s_w, 1.0])
        tau_r2 = 1.0
    prior_r = coef[0] + coef[1] * m_w
    v_r = s_r ** 2 / np.maximum(n_r, 1)
    pv_r = np.where(has, 1.0 / (1.0 / tau_r2 + 1.0 / v_r), tau_r2)
    loc_r = np.where(has, pv_r * (prior_r / tau_r2 + np.nan_to_num(mean_r) / v_r), prior_r)

    # per-draw tail index and scales
    xis = np.clip(xi_m + np.sqrt(xi_v) * rng.standard_normal(m), 0.0, 0.6)
    rs = r_m + np.sqrt(r_v) * rng.standard_normal(m)
    sws = s_mid * np.exp(-rs / 2)
    srs = s_mid * np.exp(rs / 2)
    # one uniform grid for every problem and draw
    live = at_w > 1e-9
    reach = min(max(shape.with_xi(x).upper(1e-8) for x in xis), 60.0)
    top = max(float(np.max(np.where(live, at_loc, -np.inf))) + sws.max() * reach,
              float(np.max(loc_r + 4 * np.sqrt(pv_r))) + srs.max() * reach)
    floor = shape.lower(1e-4)
    bot = min(float(np.min(np.where(live, at_loc, np.inf))) + sws.max() * floor,
              float(np.min(loc_r - 4 * np.sqrt(pv_r))) + srs.max() * floor)
    grid = np.linspace(bot, top, grid_size)
    h = grid[1] - grid[0]
    # the wrong mixture's locations binned (linearly) onto the grid once
    pos = np.clip((at_loc - bot) / h, 0, grid_size - 1.000001)
    i0 = np.floor(pos).astype(int)
    fr = pos - i0
    W = np.zeros((P, grid_size))
    rows = np.repeat(np.arange(P), at_loc.shape[1])
    np.add.at(W, (rows, i0.ravel()), (at_w * (1 - fr)).ravel())
    np.add.at(W, (rows, np.minimum(i0 + 1, grid_size - 1).ravel()), (at_w * fr).ravel())
    W /= np.maximum(W.sum(axis=1, keepdims=True), 1e-300)
    offsets = np.arange(-(grid_size - 1), grid_size) * h

    p = mix.draw_posterior(a["c"], a["n"], m, rng)  # (P, m)
    mu_r = loc_r[:, None] + np.sqrt(pv_r)[:, None] * rng.standard_normal((P, m))
    out = np.empty((P, m, len(ks_all)))
    for d in range(m):
        sh = shape.with_xi(xis[d])
        F_w = fftconvolve(W, sh.cdf(offsets / sws[d])[None, :], axes=1)[:, grid_size - 1:2 * grid_size - 1]
        F_w = np.maximum.accumulate(np.clip(F_w, 0.0, 1.0), axis=1)
        F_r = sh.cdf((grid[None, :] - mu_r[:, d:d + 1]) / srs[d])
        for F in (F_w, F_r):
            F[:, 0] = 0.0
            F[:, -1] = 1.0
        pp = p[:, d:d + 1]
        H = pp * F_r + (1 - pp) * F_w
        dH = np.diff(H, axis=1)
        share = np.clip(np.divide(pp * np.diff(F_r, axis=1), dH, out=np.zeros_like(dH), where=dH > 1e-300), 0, 1)
        logH = np.log(np.clip(H, 1e-300, 1.0))
        for j, k in enumerate(ks_all):
            out[:, d, j] = (np.diff(np.exp(k * logH), axis=1) * share).sum(axis=1)
    return out


def _head(a: dict, n1: int) -> dict:
    """The arrays of the first ``n1`` solutions of every problem (sample order)."""
    b = dict(a)
    for key in ("codes", "valid", "correct"):
        b[key] = a[key][:, :n1]
    b["reward"] = None if a["reward"] is None else a["reward"][:, :n1]
    b["n"] = b["valid"].sum(axis=1)
    b["c"] = b["correct"].sum(axis=1)
    return b


def _in_data_check(a: dict, strategy: str, n_draws: int, seed: int, frac: int = 4) -> dict | None:
    """Out-of-sample check of a voting or best-of-n model inside the data: the model fitted on the first
    n/``frac`` solutions of every problem predicts the strategy at k = n; the target is the exact value
    on all n, whose own spread over problems is ``noise`` (a variance).  Returns target, model, noise,
    or None where n is too small or unequal."""
    n = a["n"]
    n0 = int(n.min())
    n1 = n0 // frac
    if n1 < 4 or (n != n0).any():
        return None
    b = _head(a, n1)
    P = len(n)
    k_a = max(1, n1 // 2)
    rng = np.random.default_rng(seed + 7)
    ks2 = np.array([float(n0), float(k_a)])
    if strategy == "best_of_n":
        draws = _best_of_n(b, ks2, fit_success_model(b["c"], b["n"], seed=seed, n_boot=0), n_draws, rng)
    else:
        draws = _voting(b, ks2, strategy == "weighted_majority", n_draws, rng)
    inc = draws.mean(axis=1)
    model = float(_exact_at(b, strategy, k_a, seed).mean() + (inc[:, 0] - inc[:, 1]).mean())
    target = float(_exact_at(a, strategy, n0, seed).mean())
    u = np.clip(_exact_at(a, strategy, max(1, n0 // 2), seed), 0.0, 1.0)
    return {"target": target, "model": model, "noise": float((u * (1 - u)).sum() / P ** 2)}


def _exact_at(a: dict, strategy: str, k: int, seed: int) -> np.ndarray:
    """Exact (Monte Carlo for weighted voting) value of the strategy at k <= n_i per problem."""
    from . import estimators as est

    n = a["n"]
    if k >= n.min() and (n == n.min()).all():
        return _exact_at_n(a, strategy)
    if strategy == "pass_at_k":
        return est.pass_at_k(n, a["c"], k)
    if strategy == "best_of_n":
        r = np.where(a["valid"], a["reward"], -np.inf)
        return est.best_of_k(r, a["correct"], n, k)
    if strategy == "majority":
        return est.majority_at_k(a["codes"], a["class_value"], n, k)
    reward = np.where(a["valid"], a["reward"], 0.0)
    return est.weighted_majority_mc(a["codes"], np.nan_to_num(reward), a["class_value"], [k], n_draws=128,
                                    seed=seed)[k][0]


@dataclass
class _Prediction:
    pred: np.ndarray        # (P, K) per-problem point predictions
    exact: np.ndarray       # (P,) exact value at the anchor
    var: np.ndarray         # (P, K) per-problem predictive variance of the truth
    est: np.ndarray         # (K,) mean over problems
    lo: np.ndarray          # (K,) interval
    hi: np.ndarray
    extrapolated: np.ndarray  # (K,) bool: k beyond the cached solutions of some problem
    prior: str = ""
    check_error: float = np.nan


def predict(m, strategy: str, ks, *, n_draws: int = 16, seed: int = 0, anchor: float = 0.5, level: float = 0.95,
            success: SuccessModel | None = None, check: bool = True) -> _Prediction:
    """Everything :func:`extrapolate` knows about one sampling group at ``ks``: per-problem predictions
    ``pred`` (P, K), the exact values at the anchor, the mean over problems ``est`` with its ``level``
    interval ``lo``/``hi``, which k are ``extrapolated``, the chosen ``prior`` and the in-data
    ``check_error`` (see :func:`extrapolate` for the model and :func:`per_problem` for the anchor)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    a = _arrays(m)
    if strategy in ("weighted_majority", "best_of_n") and a["reward"] is None:
        raise ValueError(f"strategy {strategy!r} needs rewards, but the group {getattr(m, 'key', '')} has none")
    if not 0 < anchor <= 1:
        raise ValueError(f"anchor must be in (0, 1], got {anchor}")
    ks = np.asarray(ks, float)
    rng = np.random.default_rng(seed)
    n = a["n"]
    P = len(n)
    k_a = max(1, int(np.floor(anchor * n.min())))
    exact = _exact_at(a, strategy, k_a, seed)
    mod = success
    if mod is None and strategy in ("pass_at_k", "best_of_n"):
        mod = fit_success_model(a["c"], n, seed=seed)
    extrap = ks > n.min()
    info = {}
    if mod is not None:
        info = {"prior": mod.label, "check_error": float((mod.check.check_error * mod.weights).sum())}
    if strategy == "pass_at_k":
        from . import estimators as est

        pred = np.empty((P, len(ks)))
        var = np.zeros((P, len(ks)))
        for j, k in enumerate(ks):
            mu, v = mod.moments(a["c"], n, float(k))
            seen = k <= n
            pred[:, j] = np.where(seen, est.pass_at_k(n, a["c"], int(min(k, n.max()))) if seen.any() else 0.0, mu)
            var[:, j] = np.where(seen, 0.0, v)
        est_, lo, hi = mod.interval(a["c"], n, ks, level)
        # where every problem has k cached solutions the value is measured: the exact estimate, with the
        # model's interval for the population value moved to it
        meas = (ks[None, :] <= n[:, None]).all(axis=0)
        shift = np.where(meas, pred.mean(axis=0) - est_, 0.0)
        return _Prediction(pred, exact, var, est_ + shift, np.clip(lo + shift, 0, 1), np.clip(hi + shift, 0, 1),
                           extrap, **info)
    ks_all = np.concatenate([ks, [float(k_a)]])
    if strategy == "best_of_n":
        draws = _best_of_n(a, ks_all, mod, n_draws, rng)
    else:
        draws = _voting(a, ks_all, strategy == "weighted_majority", n_draws, rng)
    vals = draws.mean(axis=1)
    pred = exact[:, None] + vals[:, :-1] - vals[:, -1:]
    for j, k in enumerate(ks):  # measured where every problem has k cached solutions
        if k <= n.min():
            pred[:, j] = exact if int(k) == k_a else _exact_at(a, strategy, int(k), seed)
    var = draws[:, :, :-1].var(axis=1, ddof=1) if n_draws > 1 else np.zeros_like(pred)
    est_ = np.clip(pred.mean(axis=0), 0.0, 1.0)
    if strategy == "best_of_n" and n_draws > 2:
        # draws share the reward tail and scales across problems: the spread of the mean over problems
        # from draw to draw is the predictive spread (a t quantile for the few draws)
        sd = draws[:, :, :-1].mean(axis=0).std(axis=0, ddof=1)
        zq = stats.t.ppf((1 + level) / 2, n_draws - 1)
    else:  # independent draws per problem
        sd = np.sqrt(var.sum(axis=0)) / P
        zq = special.ndtri((1 + level) / 2)
    chk = _in_data_check(a, strategy, n_draws, seed) if check else None
    if chk is not None:
        # the in-data check (n/4 -> n) is one measured extrapolation error: what it shows beyond the
        # spread of its own target widens the interval, growing with log k over the check's log 4
        info["check_error"] = chk["model"] - chk["target"]
        excess = max(0.0, abs(info["check_error"]) - 2.0 * np.sqrt(chk["noise"]))
        grow = np.maximum(np.log(ks / n.min()) / np.log(4.0), 0.0)
        sd = np.sqrt(sd ** 2 + (excess * grow / zq) ** 2)
    return _Prediction(pred, exact, var, est_, np.clip(est_ - zq * sd, 0, 1), np.clip(est_ + zq * sd, 0, 1),
                       extrap, **info)


def per_problem(m, strategy: str, ks, *, n_draws: int = 16, seed: int = 0, anchor: float = 0.5,
                mixture: SuccessModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem predictions (P, K) at ``ks`` and the exact values at the anchor.

    ``m`` is a :class:`scaling.matrix.SampleMatrix` (or anything with ``codes``, ``correct``,
    ``reward``, ``flops``, ``class_value``) of one i.i.d. sampling group.  Voting and best-of-n are
    anchored at ``k_a = max(1, floor(anchor * min_i n_i))``: the exact subset estimate at k_a (an
    average over many subsets, so less noisy than the single subset at k = n) plus the model's
    increment from k_a to k.  pass@k is the posterior mean of ``1 - (1 - p_i)^k`` where k exceeds the
    problem's cached solutions and the exact estimate where it does not.  ``mixture``: a fitted
    :class:`SuccessModel` to reuse (pass@k, best-of-n).
    """
    r = predict(m, strategy, ks, n_draws=n_draws, seed=seed, anchor=anchor, success=mixture, check=False)
    return r.pred, r.exact


def extrapolate(m, strategy: str, ks=(128, 256, 512, 1024), *, n_draws: int = 16, seed: int = 0,
                anchor: float = 0.5, level: float = 0.95, success: SuccessModel | None = None,
                check: bool = True) -> pd.DataFrame:
    """Predicted accuracy of ``strategy`` at each k in ``ks`` for one sampling group, with an interval.

    ``m`` is a :class:`scaling.matrix.SampleMatrix` of i.i.d. samples.  ``success``: a fitted
    :func:`fit_success_model` to share between pass@k and best-of-n (fitted here otherwise).
    ``check``: run the in-data check of voting and best-of-n (fit on n/4, predict at n), which widens
    their interval by the error it measures beyond its own noise.

    Returns a DataFrame: strategy, k, flops (k times the mean cost of one solution plus the prompt
    once per problem, averaged over problems), accuracy, ci_low, ci_high (the ``level`` interval of the
    mean over these problems' true accuracy), se (half its width over the normal quantile),
    extrapolated (k beyond some problem's cached solutions; otherwise the value is the exact estimate),
    plug_in (the exact value at the anchor k), n_problems, model (the group's key as a string), prior
    (pass@k and best-of-n: the success-rate prior of largest weight) and check_error (the out-of-sample
    check's predicted minus observed value at n from n/4 of the solutions: pass@n of the weighted
    priors for pass@k, the strategy itself for voting and best-of-n).
    """
    r = predict(m, strategy, ks, n_draws=n_draws, seed=seed, anchor=anchor, level=level, success=success,
                 check=check)
    a = _arrays(m)
    zq = special.ndtri((1 + level) / 2)
    flops = np.asarray(ks, float) * a["per_sample_flops"].mean() + a["prompt_flops"].mean()
    key = getattr(m, "key", {})
    return pd.DataFrame({"strategy": strategy, "k": np.asarray(ks, int), "flops": flops, "accuracy": r.est,
                         "ci_low": r.lo, "ci_high": r.hi, "se": (r.hi - r.lo) / (2 * zq),
                         "extrapolated": r.extrapolated, "plug_in": float(r.exact.mean()),
                         "n_problems": len(r.exact), "model": str(key.get("model", "")), "prior": r.prior,
                         "check_error": r.check_error})


@dataclass
class Extrapolation:
    """What :func:`extrapolate_samples` returns.

    per_problem : one row per (group, strategy, k, problem): the key columns, reward_agg, strategy, k,
        problem_id, accuracy, flops, source='extrapolated' -- the shape of
        ``scaling.evaluate(..., per_problem=True)``, ready for ``scaling.fit(..., extrapolated=...)``.
    summary : one row per (group, strategy, k): the key columns, reward_agg, strategy, k, flops,
        accuracy (mean over problems), ci_low, ci_high (the interval of the true mean), se, extrapolated,
        n_problems, prior, check_error, source='extrapolated' -- what a figure needs to mark
        extrapolated points and their bands (``scaling.plots.error_vs_flops(..., extrapolation=summary)``).
    checks : per group, the success-rate candidates with their out-of-sample check and weights.
    """

    per_problem: pd.DataFrame
    summary: pd.DataFrame
    checks: pd.DataFrame


_PP_COLUMNS = ["task", "model", "params", "method", "strategy", "k", "problem_id", "accuracy", "flops", "source"]


def extrapolate_samples(samples: pd.DataFrame, strategies=None, multiples=(2, 4, 8, 16), *, compute=None,
                        reward_agg: str | None = None, by=None, n_draws: int = 16, seed: int = 0,
                        level: float = 0.95, n_boot: int = 30, intervals: bool = True,
                        progress: bool = False) -> Extrapolation:
    """Predictions beyond the cached solutions for every i.i.d. sampling group of a sample table.

    For a group whose problems hold at least n >= 4 solutions each, predicts k = n * m for m in
    ``multiples``, per problem and as a mean with its ``level`` interval (see :func:`extrapolate`).  The
    success-rate model of a group (:func:`fit_success_model`, ``n_boot`` bootstrap replicates) is fitted
    once and shared by pass@k and best-of-n.  ``intervals=False`` skips the in-data checks that only
    widen the voting and best-of-n intervals (the per-problem predictions are the same).  The per-group
    work is the one ``scaling.evaluate`` does (:func:`scaling.strategies.extrapolated_frame`).  Returns an
    :class:`Extrapolation`.
    """
    from .matrix import to_matrices
    from .strategies import extrapolated_frame

    by_cols = [by] if isinstance(by, str) else list(by or [])
    mats = [m for m in to_matrices(samples, compute=compute, reward_agg=reward_agg, by=by_cols)
            if m.key["method"] == "sample"]
    if progress:
        from tqdm.auto import tqdm
        mats = tqdm(mats, desc="extrapolating per problem", unit="group")
    zq = special.ndtri((1 + level) / 2)
    per, summ, checks = [], [], []
    for m in mats:
        strats = [s for s in (strategies or STRATEGIES) if s in STRATEGIES]
        if not m.has_rewards:  # as scaling.evaluate: reward strategies need a reward on every row
            strats = [s for s in strats if s not in ("weighted_majority", "best_of_n")]
        out = extrapolated_frame(m, strats, multiples, by_cols, reward_agg, seed, n_draws, level, n_boot, intervals)
        if out is None:
            continue
        per.append(out[0].assign(source="extrapolated"))
        summ.append(out[1].assign(se=(out[1].ci_high - out[1].ci_low) / (2 * zq), source="extrapolated"))
        if out[2] is not None:
            checks.append(out[2])
    per_df = pd.concat(per, ignore_index=True) if per else pd.DataFrame(columns=_PP_COLUMNS)
    summ_df = pd.concat(summ, ignore_index=True) if summ else pd.DataFrame(
        columns=["task", "model", "params", "method", "strategy", "k", "flops", "accuracy", "ci_low", "ci_high",
                 "se", "extrapolated", "n_problems", "prior", "check_error", "source"])
    return Extrapolation(per_df, summ_df, pd.concat(checks, ignore_index=True) if checks else pd.DataFrame())


def extrapolated_table(samples: pd.DataFrame, strategies=None, multiples=(2, 4, 8, 16), *, compute=None,
                       reward_agg: str | None = None, by=None, n_draws: int = 16, seed: int = 0,
                       progress: bool = False) -> pd.DataFrame:
    """Per-problem predictions beyond the cached solutions for every i.i.d. sampling group.

    For a group whose problems hold at least n solutions each, predicts k = n * m for m in
    ``multiples``.  Returns a long table: task, model, params, method, strategy, reward_agg (+ by),
    k, problem_id, accuracy, flops, source='extrapolated' -- the shape of
    ``scaling.evaluate(..., per_problem=True)``, ready for ``scaling.fit(..., extrapolated=...)``.
    Kept for existing callers: :func:`extrapolate_samples` returns this table together with the
    intervals of the means (``.summary``) that figures need.
    """
    return extrapolate_samples(samples, strategies, multiples, compute=compute, reward_agg=reward_agg, by=by,
                               n_draws=n_draws, seed=seed, intervals=False, progress=progress).per_problem


def power_law_anchor(m, strategy: str, ks, *, n_points: int = 16, seed: int = 0) -> np.ndarray:
    """The aggregate power law of Brown et al. (2024), ``-log acc(k) = A k^-b``, fitted by least squares
    on ``log(-log acc)`` against ``log k`` to the exact cached curve at ``n_points`` log-spaced k from 1 to
    the smallest n, and evaluated at ``ks``.  A baseline: it knows only the curve's shape (and tends to 1,
    or to 0 for a falling curve, so it cannot saturate as voting does).

    >>> from scaling.synthetic import make_world, sample_table
    >>> from scaling.matrix import to_matrices
    >>> m = to_matrices(sample_table(make_world(100, seed=1), 32))[0]
    >>> bool(0 < power_law_anchor(m, "pass_at_k", [512])[0] <= 1)
    True
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    return _power_law(_arrays(m), strategy, ks, n_points=n_points, seed=seed)


def _power_law(a: dict, strategy: str, ks, *, n_points: int = 16, seed: int = 0) -> np.ndarray:
    from . import estimators as est

    n = a["n"]
    kk = np.unique(np.round(np.geomspace(1, n.min(), n_points)).astype(int))
    if strategy == "pass_at_k":
        acc = [est.pass_at_k(n, a["c"], int(k)).mean() for k in kk]
    elif strategy == "best_of_n":
        r = np.where(a["valid"], a["reward"], -np.inf)
        acc = [v.mean() for v in est.best_of_ks(r, a["correct"], n, kk).values()]
    elif strategy == "majority":
        acc = [est.majority_at_k(a["codes"], a["class_value"], n, int(k)).mean() for k in kk]
    else:
        reward = np.nan_to_num(np.where(a["valid"], a["reward"], 0.0))
        res = est.weighted_majority_mc(a["codes"], reward, a["class_value"], list(kk), n_draws=64, seed=seed)
        acc = [res[int(k)][0].mean() for k in kk]
    y = np.log(-np.log(np.clip(np.asarray(acc, float), 1e-9, 1 - 1e-9)))
    slope, icpt = np.polyfit(np.log(kk), y, 1)
    return np.exp(-np.exp(icpt + slope * np.log(np.asarray(ks, float))))

"""Per-problem success rates: parametric priors on a fine logit grid, fitted by marginal likelihood.

c_i ~ Binomial(n_i, p_i) with p_i i.i.d. from a prior G.  A fitted prior (:class:`SuccessPrior`) is a
weight ``zero`` on p = 0 (never solved) and weights on a fixed grid of logit p from a parametric family,
so every posterior quantity of a problem (its pass@k at any k, draws of its p) is a sum over the grid.
A :class:`SuccessModel` is a weighted mixture of fitted priors (with bootstrap replicates) that predicts
as their average.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

FAMILIES = ("beta", "beta2", "logit_t")
#: Every family :func:`scaling.extrapolate.selection.fit_success_model` can weigh (``gev`` on request).
ALL_FAMILIES = FAMILIES + ("gev",)
#: Normal penalty on the GEV tail index xi (xi = 0: Brown et al.'s power law, see :func:`_gev_ell`).
XI_PRIOR_SD = 0.5
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
    top = ell.max()
    if not np.isfinite(top):  # no grid point in the law's support: flat, so the fit moves on
        return np.full(len(ell), 1.0 / len(ell)), np.zeros_like(dell)
    g = np.exp(ell - top)
    g /= g.sum()
    return g, g[None, :] * (dell - (dell * g[None, :]).sum(axis=1, keepdims=True))


def _family_weights(family: str, theta: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prior weights on the grid ``z`` (normalised over the grid) and their gradient in ``theta``.

    beta:    z = logit p with p ~ Beta(a, b), density in z proportional to p^a (1 - p)^b;
             theta = (log a, log b).  Near p = 0 this is the power law p^(a-1) of Schaeffer et al.
    beta2:   w Beta(a1, b1) + (1 - w) Beta(a2, b2); theta = (log a1, log b1, log a2, log b2, logit w)
    logit_t: z ~ Student-t_nu(mu, s) (item-response difficulty); theta = (mu, log s, log nu)
    gev:     hardness u = -z ~ generalised extreme value (mu, beta, xi); theta = (mu, log beta, xi)
             (see :func:`_gev_ell`)
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
    if family == "gev":
        return _softmax_grad(*_gev_ell(theta, z))
    raise ValueError(f"unknown family {family!r}; expected one of {ALL_FAMILIES}")


def _gev_ell(theta: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density (up to a constant) on the grid ``z`` of a GEV law of the hardness u = -logit p, and its
    gradient in theta = (mu, log beta, xi).

    With t = (u - mu) / beta and s = 1 + xi t > 0: log f = -(1 + 1/xi) log s - s^(-1/xi) (xi = 0: the
    Gumbel law -t - exp(-t)).  The tail toward hard problems decides coverage at large k: xi = 0 is an
    exponential tail in u, i.e. a power law p^(1/beta - 1) near p = 0 -- the law under which the coverage
    of repeated sampling is Brown et al.'s ``-log pass@k = a k^-(1/beta)`` (Schaeffer et al. 2025); xi < 0
    bounds the hardness (coverage saturates), xi > 0 thickens the tail toward never-solvable problems.
    Outside the support (s <= 0) the density is 0 (log f = -inf, zero gradient)."""
    mu, lb, xi = float(theta[0]), float(theta[1]), float(theta[2])
    be = np.exp(lb)
    t = (-z - mu) / be
    if abs(xi) < 1e-4:  # first order about the Gumbel limit
        e = np.exp(-t)
        ell = -t - e - xi * (t - 0.5 * t * t * (1.0 - e))
        gt = -1.0 + e - xi * (1.0 - t * (1.0 - e) - 0.5 * t * t * e)
        return ell, np.stack([-gt / be, -gt * t, 0.5 * t * t * (1.0 - e) - t])
    s = 1.0 + xi * t
    ok = s > 1e-12
    s_ = np.where(ok, s, 1.0)
    ls = np.log(s_)
    e = np.exp(-ls / xi)
    ell = np.where(ok, -(1.0 + 1.0 / xi) * ls - e, -np.inf)
    k = (xi + 1.0 - e) / s_
    d = np.where(ok[None, :], np.stack([k / be, k * t, ls / xi ** 2 * (1.0 - e) - t * k / xi]), 0.0)
    return ell, d


_BOUNDS = {"beta": [(np.log(0.02), np.log(50.0)), (np.log(0.02), np.log(500.0))],
           "logit_t": [(_Z_LO, _Z_HI), (np.log(0.05), np.log(20.0)), (np.log(0.5), np.log(200.0))]}
_BOUNDS["beta2"] = _BOUNDS["beta"] * 2 + [(-8.0, 8.0)]
_BOUNDS["gev"] = [(-15.0, 80.0), (np.log(0.3), np.log(40.0)), (-0.9, 1.0)]
_STARTS = {"beta": [(np.log(0.4), np.log(2.0)), (0.0, 0.0), (np.log(2.0), np.log(0.5))],
           "beta2": [(np.log(0.3), np.log(5.0), np.log(2.0), np.log(0.7), 0.0),
                     (np.log(0.15), np.log(3.0), np.log(3.0), np.log(3.0), -0.5),
                     (np.log(0.6), np.log(20.0), np.log(1.5), np.log(0.5), 0.5)],
           "logit_t": [(-2.0, np.log(1.5), np.log(3.0)), (1.0, 0.0, np.log(10.0)),
                       (-1.0, np.log(3.0), np.log(1.5))],
           "gev": [(2.0, np.log(2.0), 0.0), (8.0, np.log(5.0), 0.3), (4.0, np.log(2.0), -0.3)]}



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
        if family == "gev":  # the normal penalty on the tail index (a MAP fit)
            val += 0.5 * (t[2] / XI_PRIOR_SD) ** 2
            grad[2] += t[2] / XI_PRIOR_SD ** 2
        if zero_atom:
            grad = np.append(grad, -w0 * (1 - w0) * float(((self.A - Lg) * r).sum()))
        return val, grad

    def fit(self, family: str, zero_atom: bool, starts=None, mult: np.ndarray | None = None,
            share: float | None = None) -> SuccessPrior:
        """``family`` (with a weight on p = 0 if ``zero_atom``) fitted by marginal likelihood from the best
        of ``starts``.  ``share``: hold that weight at ``share`` instead of fitting it -- one point of the
        profile likelihood of the never-solvable share (0: no weight on p = 0)."""
        npar = len(_BOUNDS[family])
        if share is not None:
            zero_atom = share > 0
        fixed = float(special.logit(share)) if share is not None and zero_atom else None
        bounds = _BOUNDS[family] + ([(-10.0, 5.0)] if zero_atom and fixed is None else [])
        if starts is None:
            starts = [np.append(s, -3.0) if len(bounds) > npar else np.asarray(s) for s in _STARTS[family]]

        def nll(t):
            if fixed is None:
                return self.nll(t, family, zero_atom, mult)
            val, grad = self.nll(np.append(t, fixed), family, True, mult)
            return val, grad[:npar]

        best = None
        for s in starts:
            r = optimize.minimize(nll, np.asarray(s, float), jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 400})
            if best is None or r.fun < best.fun:
                best = r
        t = best.x if fixed is None else np.append(best.x, fixed)
        g, _ = _family_weights(family, t[:npar], self.z)
        loglik = -float(best.fun) + (0.5 * (t[2] / XI_PRIOR_SD) ** 2 if family == "gev" else 0.0)
        zero = float(share) if fixed is not None else float(special.expit(t[npar])) if zero_atom else 0.0
        return SuccessPrior(family, zero_atom, t, self.z, g, zero, loglik, len(bounds))


def _lbinom(a, b):
    return special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)


def _mixture_quantiles(w: np.ndarray, mu: np.ndarray, sd: np.ndarray, qs) -> list[float]:
    """Quantiles of the normal mixture sum_j w_j N(mu_j, sd_j^2) (sd_j may be 0)."""
    w = np.asarray(w, float) / np.sum(w)
    sd = np.maximum(np.asarray(sd, float), 1e-9)
    x = np.linspace((mu - 6 * sd).min(), (mu + 6 * sd).max(), 4001)
    F = (w[None, :] * special.ndtr((x[:, None] - mu[None, :]) / sd[None, :])).sum(axis=1)
    return [float(np.interp(q, F, x)) for q in qs]


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

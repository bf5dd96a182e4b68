"""Beta-binomial success rates averaged over the share of never-solvable problems, by its evidence.

Whether a problem never solved in n samples is hard (p below 1/n) or impossible (p = 0) is barely
identified by n samples, and a maximum-likelihood fit of the never-solvable share ``w0`` sits at
whichever end the bulk of the data prefers.  :func:`fit_zero_share` profiles the likelihood over a grid
of w0 in [0, u) (u: the share of problems never solved, the largest w0 the data allow), refits the Beta
prior at each, and averages the predictions over w0 with weights proportional to the profile likelihood
(a flat prior on w0) -- in the spirit of Kazdan et al. (2025), who fit beta-binomials to per-problem
counts to predict pass@k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .priors import SuccessPrior, _grid, _mixture_quantiles, _Pairs


@dataclass
class ZeroShareAverage:
    """Fits of one family at every never-solvable share of a grid and the weight of each share.

    ``shares`` (S,), ``weights`` (S,) summing to 1, ``fits``: the :class:`SuccessPrior` at each share."""

    shares: np.ndarray
    weights: np.ndarray
    fits: list

    @property
    def zero(self) -> float:
        """The posterior mean of the never-solvable share."""
        return float(self.weights @ self.shares)

    def moments(self, c, n, k: float) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of pass@k per problem, averaged over the shares."""
        mean, sq = 0.0, 0.0
        for w, f in zip(self.weights, self.fits, strict=True):
            if w > 0:
                mu, v = f.moments(c, n, k)
                mean = mean + w * mu
                sq = sq + w * (v + mu * mu)
        return mean, np.maximum(sq - mean * mean, 0.0)

    def mean_at(self, c, n, k: float, mult=None) -> float:
        """Mean pass@k over problems (weighted by ``mult``, e.g. the pooled pairs of a thinned histogram)."""
        mu = self.moments(c, n, k)[0]
        return float(np.average(mu, weights=mult))

    def interval(self, c, n, ks, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean pass@k over these problems at each k with its ``level`` interval: a mixture over the shares
        of normals with mean ``mean_i E[pass@k | c_i]`` and variance ``sum_i Var[pass@k | c_i] / P^2``."""
        P = len(np.atleast_1d(c))
        live = [(w, f) for w, f in zip(self.weights, self.fits, strict=True) if w > 0]
        est, lo, hi = [], [], []
        for k in np.atleast_1d(ks):
            mom = [f.moments(c, n, float(k)) for _, f in live]
            w = np.array([w for w, _ in live])
            mu = np.array([m.mean() for m, _ in mom])
            sd = np.sqrt(np.array([v.sum() for _, v in mom])) / P
            est.append(float(w @ mu / w.sum()))
            a, b = _mixture_quantiles(w, mu, sd, [(1 - level) / 2, (1 + level) / 2])
            lo.append(a)
            hi.append(b)
        return np.array(est), np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def fit_zero_share(c, n, mult=None, *, family: str = "beta", n_shares: int = 13) -> ZeroShareAverage:
    """Fit ``family`` (default Beta: the beta-binomial) to success counts ``c`` of ``n`` samples at each of
    ``n_shares`` never-solvable shares w0 evenly spaced on [0, u) and weigh each share by its profile
    likelihood.  ``mult``: multiplicities of (c, n) pairs (a thinned histogram); default one per problem.

    Model: p_i = 0 with probability w0, otherwise p_i ~ Beta(a, b); c_i ~ Binomial(n_i, p_i).
    Assumptions: as :func:`scaling.extrapolate.fit_success_model`; a flat prior on w0 and the Beta's
    parameters profiled out (no Laplace correction).

    >>> rng = np.random.default_rng(0)
    >>> p = np.where(rng.random(400) < 0.3, 0.0, rng.beta(0.5, 2.0, 400)); c = rng.binomial(64, p)
    >>> zs = fit_zero_share(c, np.full(400, 64))
    >>> bool(0.15 < zs.zero < 0.4)
    True
    """
    c = np.asarray(c, float)
    n = np.asarray(n, float)
    w = np.ones(len(c)) if mult is None else np.asarray(mult, float)
    if len(c) == 0 or w.sum() <= 0:
        raise ValueError("fit_zero_share: no problems")
    data = _Pairs(c, n, mult, _grid(n.max()))
    u = float(w[c == 0].sum() / w.sum())
    # the solvable share 1 - w0 evenly spaced in log from 1 down to the share solved (a scale-free prior on
    # how many problems are solvable: when few are solved, few solvable is as plausible as many)
    shares = 1.0 - np.geomspace(1.0, 1.0 - u, n_shares) if 0 < u < 1 else np.zeros(1)
    fits: list[SuccessPrior] = []
    for s in shares:
        starts = None if not fits else [fits[-1].theta[:len(fits[-1].theta) - int(fits[-1].zero_atom)]]
        fits.append(data.fit_share(family, float(s), starts=starts))
    ll = np.array([f.loglik for f in fits])
    wts = np.exp(ll - ll.max())
    return ZeroShareAverage(shares, wts / wts.sum(), fits)

"""Beta-binomial success rates averaged over the share of never-solvable problems, by its evidence.

Whether a problem never solved in n samples is hard (p below 1/n) or impossible (p = 0) is barely
identified by n samples, and a maximum-likelihood fit of the never-solvable share ``w0`` sits at
whichever end the bulk of the data prefers.  :func:`fit_zero_share` profiles the likelihood over a grid
of w0 in [0, u] (u: the share of problems never solved, the largest w0 the data allow), refits the Beta
prior at each, and averages the predictions over w0 with weights proportional to the profile likelihood
-- in the spirit of Kazdan et al. (2025), who fit beta-binomials to per-problem
counts to predict pass@k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .priors import SuccessModel, SuccessPrior, _grid, _Pairs


def fit_zero_share(c, n, mult=None, *, family: str = "beta", n_shares: int = 13) -> SuccessModel:
    """Fit ``family`` (default Beta: the beta-binomial) to success counts ``c`` of ``n`` samples at each of
    ``n_shares`` never-solvable shares w0 on [0, u], the solvable share 1 - w0 evenly spaced in log, and
    weigh each share by its profile likelihood.  ``mult``: multiplicities of (c, n) pairs (a thinned
    histogram); default one per problem.  Returns a :class:`SuccessModel` whose candidates are the fits at
    each share (``check``: share, loglik, weight), so it predicts as their weighted average.

    Model: p_i = 0 with probability w0, otherwise p_i ~ Beta(a, b); c_i ~ Binomial(n_i, p_i).
    Assumptions: as :func:`scaling.extrapolate.fit_success_model`; a prior on w0 flat in log(1 - w0) and
    the Beta's parameters profiled out (no Laplace correction).

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
        fits.append(data.fit(family, False, starts=starts, share=float(s)))
    ll = np.array([f.loglik for f in fits])
    wts = np.exp(ll - ll.max())
    wts /= wts.sum()
    return SuccessModel(fits, wts, pd.DataFrame({"share": shares, "loglik": ll, "weight": wts}))

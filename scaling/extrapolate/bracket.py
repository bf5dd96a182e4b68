"""Coverage between two opposite readings of the problems never solved in n samples: the bracket.

Upper reading: Brown et al.'s power law ``-log pass@k = a k^-b`` fitted to the cached curve, which
tends to 1 -- every problem is solvable and the hard ones keep being solved at the rate the curve shows.
Lower reading: the beta-binomial averaged over the never-solvable share (:func:`fit_zero_share`), in
which the bulk of the solved problems fixes the Beta's left tail and whatever that tail cannot explain
is never solved.  On real data the two err on opposite sides (CodeContests, 128 -> 10,000 samples, five
models x 20 draws: the power law +0.022 on average, the lower reading -0.058; the truth lay between them
in 62 % of cases), and where the truth lies between them the midpoint errs by at most half their
distance.  The bracket's estimate is that midpoint; its interval runs from the lowest low end of the
two readings' intervals to the highest high end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import estimators as est
from .selection import _thinned
from .zero_share import fit_zero_share


@dataclass
class BracketFit:
    """The bracket at ``ks``: ``est``, ``lo``, ``hi`` (K,) and its two readings ``upper`` (the power law)
    and ``lower`` (the beta-binomial over the never-solvable share), each (K,)."""

    est: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


def coverage_bracket(c, n, ks, pl, *, level: float = 0.95) -> BracketFit:
    """The bracket of coverage at ``ks`` from success counts ``c`` of ``n`` samples, with the power law
    ``pl`` (a :class:`scaling.extrapolate.power_law.PowerLaw`) already fitted to the cached curve, with
    bootstrap ``draws`` for its interval or without.

    >>> from scaling.extrapolate.power_law import power_law_coverage
    >>> rng = np.random.default_rng(0)
    >>> p = np.where(rng.random(300) < 0.2, 0.0, rng.beta(0.3, 2.0, 300)); c = rng.binomial(64, p)
    >>> n = np.full(300, 64)
    >>> b = coverage_bracket(c, n, [1024], power_law_coverage(c, n, n_boot=50))
    >>> bool(b.lo[0] <= min(b.lower[0], b.upper[0]) <= b.est[0] <= max(b.lower[0], b.upper[0]) <= b.hi[0])
    True
    """
    ks = np.asarray(ks, float)
    lower, llo, lhi = fit_zero_share(c, n).interval(c, n, ks, level)
    upper = pl(ks)
    ulo, uhi = pl.interval(ks, level)
    mid = 0.5 * (lower + upper)
    lo = np.minimum.reduce([llo, ulo, mid])
    hi = np.maximum.reduce([lhi, uhi, mid])
    return BracketFit(mid, np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0), upper, lower)


def bracket_check(c, n, frac: int, upper: float) -> float:
    """Long-range in-data check of the bracket: both readings fitted on the first n/``frac`` of each
    problem's solutions predict coverage at n -- ``upper``, the power law fitted to the curve up to
    n/frac, evaluated at n (:func:`scaling.extrapolate.power_law.power_law_coverage` with ``k_max``), and
    the beta-binomial over the never-solvable share fitted to the histogram of successes in a random
    n/frac-subset, averaged over every subset.  Returns the midpoint's predicted minus observed coverage
    at n."""
    c, n = np.asarray(c, int), np.asarray(n, int)
    n0 = int(n.min())
    jj, nn1, wts, _, _ = _thinned(c, n, frac)
    lower = float(np.average(fit_zero_share(jj, nn1, wts).pass_at(jj, nn1, n0), weights=wts))
    return 0.5 * (float(upper) + lower) - float(est.pass_at_k(n, c, n0).mean())

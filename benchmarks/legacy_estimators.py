"""FROZEN COPY of scaling/estimators.py as of commit f0db22a (0.1.0), kept only so that
benchmarks/bench_evaluate.py can time the majority and weighted-majority kernels before and after
issue 14 in the same run.  Not used by the library; its majority raises IndexError when two classes are
right (fixed in scaling.estimators).

Exact and Monte-Carlo estimators of strategy accuracy at k, over (units x solutions) matrices.

Every function takes one row per unit (a problem) and returns one value per unit: the expected
accuracy over all size-k subsets drawn without replacement from the unit's ``n`` cached solutions.
When ``k > n`` for a unit, the unit uses all its ``n`` solutions (``k`` is capped at ``n``).

Ties are split: when several answers (or several top rewards) tie, the subset earns the fraction of
tied candidates that are correct, i.e. the expectation under a uniformly random tie-break.  A null
answer never wins a vote; a subset of null answers only scores 0.

Closed forms
------------
pass@k        ``1 - C(n - c, k) / C(n, k)`` (c correct solutions), evaluated as
              ``-expm1(log C(n-c, k) - log C(n, k))`` with log-gamma, accurate near 0 and near 1.
best-of-k     order statistics: sort by reward; a reward level v held by m_v solutions (c_v correct) with
              b_v solutions below it is the subset's maximum with probability
              ``[C(b_v + m_v, k) - C(b_v, k)] / C(n, k)`` and then earns ``c_v / m_v``.
majority@k    exact, by generating functions over answer classes (see :func:`majority_at_k`).
weighted      Monte Carlo over random subsets (:func:`weighted_majority_mc`), with its standard error.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from scipy.special import gammaln, xlogy

from scaling.matrix import NULL, PAD, class_mass

_TIE_RTOL = 1e-9


def log_binom(a: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """``log C(a, k)``; ``-inf`` where ``a < k`` (broadcasts)."""
    a = np.asarray(a, dtype=float)
    k = np.asarray(k, dtype=float)
    ok = (a >= k) & (k >= 0)
    aa = np.where(ok, a, 0.0)
    kk = np.where(ok, k, 0.0)
    out = gammaln(aa + 1) - gammaln(kk + 1) - gammaln(aa - kk + 1)
    return np.where(ok, out, -np.inf)


def _cap(k: int, n: np.ndarray) -> np.ndarray:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return np.minimum(int(k), np.asarray(n))


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Probability that a size-k subset of n solutions (c correct) holds a correct one.

    ``1 - C(n-c, k) / C(n, k)``.  Example: n = 4, c = 1, k = 2 gives 1 - 3/6 = 0.5.

    >>> float(pass_at_k(np.array([4]), np.array([1]), 2)[0])
    0.5
    """
    n = np.asarray(n)
    kk = _cap(k, n)
    c = np.asarray(c)
    lr = log_binom(n - c, kk) - log_binom(n, kk)
    return np.where(c > 0, -np.expm1(lr), 0.0)


def best_of_k(reward: np.ndarray, correct: np.ndarray, n: np.ndarray, k: int) -> np.ndarray:
    """Expected correctness of the highest-reward solution in a size-k subset (ties split).

    ``reward`` and ``correct`` are (P, S) with the unit's solutions in the first ``n`` columns.
    Formula: see the module docstring.  Solutions with a null answer compete like any other (their
    ``correct`` is False).
    """
    return best_of_ks(reward, correct, n, [k])[int(k)]


def best_of_ks(reward: np.ndarray, correct: np.ndarray, n: np.ndarray, ks: Iterable[int]) -> dict[int, np.ndarray]:
    """:func:`best_of_k` for several k, sorting each unit's rewards once."""
    reward = np.asarray(reward, dtype=float)
    p, s = reward.shape
    valid = np.arange(s)[None, :] < np.asarray(n)[:, None]
    if np.isnan(reward[valid]).any():
        raise ValueError("best_of_k: rewards are missing (NaN) on some solutions")
    key = np.where(valid, reward, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    r = np.take_along_axis(key, order, axis=1)
    c = np.take_along_axis(np.asarray(correct) & valid, order, axis=1)
    # start/end (exclusive) of each element's tie level, padding excluded (it sorts last as +inf)
    idx = np.broadcast_to(np.arange(s), (p, s))
    new_level = np.ones((p, s), dtype=bool)
    new_level[:, 1:] = r[:, 1:] != r[:, :-1]
    start = np.maximum.accumulate(np.where(new_level, idx, 0), axis=1)
    new_rev = np.ones((p, s), dtype=bool)
    new_rev[:, :-1] = r[:, 1:] != r[:, :-1]
    end_rev = np.minimum.accumulate(np.where(new_rev, idx, s - 1)[:, ::-1], axis=1)[:, ::-1] + 1
    n_ = np.asarray(n)[:, None]
    end = np.minimum(end_rev, n_)
    # only correct solutions contribute: c_v / m_v * [G(end) - G(start)] summed over the level
    rows, cols = np.nonzero(c)
    st, en = start[rows, cols], end[rows, cols]
    size = np.maximum(en - st, 1)
    nn = np.asarray(n)[rows]
    out = {}
    for k in ks:
        kk = np.minimum(int(k), nn)
        lcn = log_binom(nn, kk)
        contrib = (np.exp(log_binom(en, kk) - lcn) - np.exp(log_binom(st, kk) - lcn)) / size
        out[int(k)] = np.bincount(rows, weights=contrib, minlength=p)
    return out


def vote(mass: np.ndarray, present: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Accuracy of a vote given per-class ``mass`` (..., C), which classes are ``present`` and each
    class's ``value`` (its correctness).  Winners are the present classes of largest mass (relative
    tolerance 1e-9 for float sums); the result is the mean value of the winners, 0 with no winner."""
    m = np.where(present, mass, -np.inf)
    top = m.max(axis=-1, keepdims=True)
    tol = _TIE_RTOL * np.maximum(np.abs(top), 1e-300)
    win = present & (m >= top - tol)
    nwin = win.sum(axis=-1)
    val = np.broadcast_to(value, win.shape)
    return np.divide((win * val).sum(axis=-1), nwin, out=np.zeros(nwin.shape, dtype=float), where=nwin > 0)


def vote_all(codes: np.ndarray, value: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Majority (``weights=None``) or weighted vote over every solution of each unit (k = n)."""
    n_classes = value.shape[1]
    cnt = class_mass(codes, None, n_classes)
    mass = cnt if weights is None else class_mass(codes, np.nan_to_num(weights), n_classes)
    return vote(mass, cnt > 0, value)


# ----------------------------------------------------------------------------------------------
# exact majority@k
# ----------------------------------------------------------------------------------------------

def _chunks(total: int, size: int):
    for lo in range(0, total, max(1, size)):
        yield slice(lo, min(total, lo + max(1, size)))


def majority_at_k(codes: np.ndarray, value: np.ndarray, n: np.ndarray, k: int,
                  max_elems: int = 4_000_000) -> np.ndarray:
    """Exact expected majority-vote accuracy over all size-k subsets (ties split, nulls never win).

    Let class i hold m_i of a unit's n solutions (m_0 nulls) and have value v_i.  A subset in which
    class j appears x times wins when every other class appears at most x times; with T other classes
    at exactly x it earns ``v_j / (1 + T)``.  Writing ``1/(1+T) = ∫_0^1 u^T du``,

        acc = Σ_j v_j Σ_x C(m_j, x) [z^{k-x}] ∫_0^1 (1+z)^{m_0} Π_{i≠j} (A_i^x(z) + u C(m_i, x) z^x) du / C(n, k)

    with ``A_i^x(z) = Σ_{y<x} C(m_i, y) z^y``.  The u-integral is a polynomial of degree < #classes and
    is integrated exactly by Gauss-Legendre; the coefficient extraction ``[z^k]`` is a Cauchy integral
    evaluated by the trapezoidal rule on the circle |z| = k/(n-k) (the saddle point), with enough
    points that aliasing is below 1e-15.  Classes of equal size share one factor (raised to a power),
    and classes smaller than x fold into ``(1+z)^m``, so the work is ~Σ_x (#distinct sizes >= x).
    Vectorised over units; loops run over x and over the few correct classes only.
    """
    codes = np.asarray(codes)
    value = np.asarray(value, dtype=float)
    n = np.asarray(n, dtype=np.int64)
    kk = _cap(k, n)
    n_classes = value.shape[1]
    counts = class_mass(codes, None, n_classes).astype(np.int64)
    out = np.zeros(len(n))
    full = kk >= n
    if full.any():
        out[full] = vote(counts[full].astype(float), counts[full] > 0, value[full])
    # a class holding more than n - k/2 solutions has a strict majority in every size-k subset
    top = counts.argmax(axis=1)
    m_top = counts[np.arange(len(n)), top]
    sure = ~full & (2 * (n - m_top) < kk)
    out[sure] = value[np.flatnonzero(sure), top[sure]]
    # one answer class: it wins whenever the subset holds any answered solution
    single = ~full & ~sure & ((counts > 0).sum(axis=1) == 1)
    if single.any():
        nnull = n[single] - counts[single].sum(axis=1)
        v = (value[single] * (counts[single] > 0)).sum(axis=1)
        out[single] = v * pass_at_k(n[single], n[single] - nnull, k)
    rest = np.flatnonzero(~full & ~sure & ~single & (counts.sum(axis=1) > 0) & ((value * (counts > 0)).max(axis=1) > 0))
    if len(rest):
        out[rest] = _majority_cauchy(counts[rest], value[rest], n[rest], kk[rest], max_elems)
    return out


def _size_groups(counts: np.ndarray, value: np.ndarray):
    """Per unit: distinct class sizes (descending), multiplicities, and the correct ("slot") classes."""
    p, c = counts.shape
    sizes = -np.sort(-counts, axis=1)                       # descending
    new = np.ones_like(sizes, dtype=bool)
    new[:, 1:] = sizes[:, 1:] != sizes[:, :-1]
    new &= sizes > 0
    g = int(new.sum(axis=1).max()) if p else 0
    gsize = np.zeros((p, max(g, 1)), dtype=np.int64)
    gmult = np.zeros((p, max(g, 1)), dtype=np.int64)
    gid = np.cumsum(new, axis=1) - 1                         # group index of each sorted entry
    rows = np.broadcast_to(np.arange(p)[:, None], sizes.shape)
    ok = sizes > 0
    gsize[rows[ok], gid[ok]] = sizes[ok]
    np.add.at(gmult, (rows[ok], gid[ok]), 1)
    # slots: classes with positive value and positive count
    pos = (value > 0) & (counts > 0)
    j = int(pos.sum(axis=1).max()) if p else 0
    slot_size = np.zeros((p, max(j, 1)), dtype=np.int64)
    slot_val = np.zeros((p, max(j, 1)))
    slot_rank = np.cumsum(pos, axis=1) - 1
    r, cidx = np.nonzero(pos)
    slot_size[r, slot_rank[r, cidx]] = counts[r, cidx]
    slot_val[r, slot_rank[r, cidx]] = value[r, cidx]
    # group index of each slot's size
    slot_group = np.argmax(gsize[:, None, :] == slot_size[:, :, None], axis=2)
    return gsize, gmult, slot_size, slot_val, slot_group


@lru_cache(maxsize=256)
def _gauss01(nq: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1]: exact for polynomials of degree <= 2 nq - 1."""
    u, w = np.polynomial.legendre.leggauss(nq)
    return (u + 1) / 2, w / 2


def _n_points(n: np.ndarray, k: np.ndarray) -> int:
    """Fewest trapezoid points L for which aliasing stays below 1e-16 for every unit.

    The normalised generating function's coefficients are bounded by the Binomial(n, k/n) pmf, so the
    coefficient aliased onto z^k from z^(k±jL) is below pmf(k ± jL) / pmf(k)."""
    n_max = int(n.max())
    if n_max + 1 <= 24:
        return n_max + 1
    lp, lq = np.log(k / n), np.log1p(-k / n)

    def logpmf(d: np.ndarray) -> np.ndarray:
        return log_binom(n, d) + d * lp + (n - d) * lq

    base = logpmf(k)
    for L in range(16, n_max + 2, 4):
        alias = np.maximum(logpmf(k + L), logpmf(k - L)) - base
        if alias.max() < -39:          # e^-39 ~ 1e-17, summed over the few aliases
            return L
    return n_max + 1


def _kl(a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Bernoulli KL divergence KL(a || p), with 0 log 0 = 0 (the exponent of the Chernoff bound)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return xlogy(a, a / p) + xlogy(1 - a, (1 - a) / (1 - p))


def _live_pairs(counts: np.ndarray, slot_size: np.ndarray, slot_val: np.ndarray, n: np.ndarray,
                k: np.ndarray, xmax: int) -> np.ndarray:
    """(P, xmax) mask of the (unit, x) pairs that can matter.

    A pair is dropped when P(X_j = x) · P(largest rival <= x | X_j = x) < e^-41.5 ~ 1e-18 for every
    correct class j, where the second factor is bounded by the Chernoff (KL) bound, which holds for
    sampling without replacement (Hoeffding 1963).  Dropped pairs change a unit's value by < 1e-15."""
    xs = np.arange(1, xmax + 1)
    live = np.zeros((len(n), xmax), dtype=bool)
    sizes_desc = -np.sort(-counts, axis=1)
    second = sizes_desc[:, 1:2] if counts.shape[1] > 1 else np.zeros((len(n), 1), dtype=sizes_desc.dtype)
    draws = (k[:, None] - xs[None, :]).astype(float)
    for s in range(slot_size.shape[1]):
        m_s = slot_size[:, s:s + 1]
        lp = (log_binom(m_s, xs[None, :]) + log_binom(n[:, None] - m_s, k[:, None] - xs[None, :])
              - log_binom(n, k)[:, None])
        rival = np.where(sizes_desc[:, :1] == m_s, second, sizes_desc[:, :1])
        pr = rival / np.maximum(n[:, None] - m_s, 1)
        frac = np.divide(xs[None, :], draws, out=np.ones_like(draws), where=draws > 0)
        below = (frac < pr) & (draws > 0)
        with np.errstate(invalid="ignore"):
            bound = np.where(below, -draws * _kl(frac, pr), 0.0)
        live |= (lp + bound > -41.5) & (slot_val[:, s:s + 1] > 0)
    return live


def _majority_cauchy(counts: np.ndarray, value: np.ndarray, n: np.ndarray, k: np.ndarray,
                     max_elems: int) -> np.ndarray:
    out = np.zeros(len(n))
    gsize, gmult, slot_size, slot_val, slot_group = _size_groups(counts, value)
    xmax = int(min(k.max(), slot_size.max()))
    live_x = _live_pairs(counts, slot_size, slot_val, n, k, xmax)
    # keep units with a live pair, sorted by their last live x so that the units still needed at x
    # form a prefix (slices, not copies)
    any_live = live_x.any(axis=1)
    x_hi = np.where(any_live, xmax - np.argmax(live_x[:, ::-1], axis=1), 0)
    keep = np.flatnonzero(any_live)
    keep = keep[np.argsort(-x_hi[keep], kind="stable")]
    if not len(keep):
        return out
    gsize, gmult, slot_size, slot_val, slot_group = (a[keep] for a in (gsize, gmult, slot_size, slot_val,
                                                                       slot_group))
    live_x, x_hi, n, k = live_x[keep], x_hi[keep], n[keep], k[keep]
    p = len(keep)
    rho = k / (n - k)
    n_pts = _n_points(n, k)
    theta = 2 * np.pi * np.arange(n_pts) / n_pts
    w = np.exp(1j * theta)                                   # (L,)
    logw = np.log1p(rho[:, None] * w[None, :]) - np.log1p(rho)[:, None]   # log((1+z)/(1+rho)), |.| <= 1
    lrho = np.log(rho)
    l1p = np.log1p(rho)
    total = np.zeros((p, n_pts), dtype=complex)
    a_part = np.exp(-gsize * l1p[:, None])[:, :, None] * np.ones(n_pts, dtype=complex)   # y = 0 terms
    wx = np.ones(n_pts, dtype=complex)
    for x in range(1, int(x_hi.max()) + 1):
        wx = wx * w
        na = int(np.searchsorted(-x_hi, -x, side="right"))   # units with x_hi >= x
        # a class can reach count x (and so tie or beat the winner) only if m_i >= x; a class whose
        # chance of reaching x is below e^-41.5 (Chernoff bound on the upper tail) is folded into the
        # plain binomial factor, changing the result by less than that chance
        pr = gsize[:na] / n[:na, None]
        frac = x / k[:na, None]
        reach = (frac <= pr) | (-k[:na, None] * _kl(frac, pr) > -41.5)
        act = (gsize[:na] >= x) & reach                      # (na, G), a prefix of each row
        gact = int(act.sum(axis=1).max())
        if gact == 0:
            break
        act = act[:, :gact]
        # term_i(x) = C(m_i, x) z^x / (1+rho)^{m_i}, for the active groups
        gs = gsize[:na, :gact]
        lt = np.where(act, log_binom(gs, x) + x * lrho[:na, None] - gs * l1p[:na, None], -np.inf)
        term = np.exp(lt)[:, :, None] * wx[None, None, :]
        rows = np.flatnonzero(live_x[:na, x - 1])
        if len(rows):
            ga = int(act[rows].sum(axis=1).max())
            # u-degree of the terms that reach z^k: T other classes tied at x need x (1 + T) <= k
            n_other = (gmult[rows, :ga] * act[rows, :ga]).sum(axis=1).max() - 1
            deg = int(min(n_other, k[rows].max() // x - 1))
            nq = max(1, int(np.ceil((deg + 1) / 2)))
            uq, wq = _gauss01(nq)
            for cs in _chunks(len(rows), max_elems // max(nq * n_pts * 4, 1)):
                r = rows[cs]
                total[r] += _slot_sum(a_part[r, :ga], term[r, :ga], act[r, :ga], gmult[r, :ga], slot_size[r],
                                      slot_val[r], slot_group[r], x, uq, wq) * np.exp(
                    (n[r] - (np.where(act[r], gsize[r, :gact], 0) * gmult[r, :gact]).sum(axis=1))[:, None] * logw[r])
        a_part[:na, :gact] += term
    # [z^k] by the trapezoidal rule; undo the normalisation (1+rho)^n / rho^k / C(n, k)
    coef = (total * np.exp(-1j * np.outer(k, theta))).real.mean(axis=1)
    scale = np.exp(n * l1p - k * lrho - log_binom(n, k))
    out[keep] = np.clip(coef * scale, 0.0, 1.0)
    return out


def _slot_sum(a_part, term, act, gmult, slot_size, slot_val, slot_group, x, uq, wq) -> np.ndarray:
    """Σ_j v_j B_j ∫ Π_{i≠j} (A_i + u B_i) du at the trapezoid points, for correct classes j at count x.
    Arrays are per unit and per size group (classes of one size share a factor raised to a power)."""
    r, ga, n_pts = term.shape
    h = np.zeros((r, n_pts), dtype=complex)
    for s in range(slot_size.shape[1]):
        sv = slot_val[:, s]
        live = (slot_size[:, s] >= x) & (sv > 0)
        if not live.any():
            continue
        sg = np.where(live, slot_group[:, s], -1)
        prod = np.ones((r, len(uq), n_pts), dtype=complex)
        for g in range(ga):
            e = np.where(act[:, g], gmult[:, g] - (sg == g), 0)
            if not e.any():
                continue
            f = uq[None, :, None] * term[:, g, None, :]
            f += a_part[:, g, None, :]                                              # (r, q, L)
            if e.max() == 1:
                prod *= np.where(e[:, None, None] == 1, f, 1.0)
            else:
                prod *= np.power(f, e[:, None, None])   # numpy's integer-exponent fast path
        integ = np.einsum("q,pql->pl", wq, prod)
        tj = np.take_along_axis(term, np.maximum(sg, 0)[:, None, None], axis=1)[:, 0, :]
        h += np.where(live[:, None], sv[:, None] * tj * integ, 0)
    return h


# ----------------------------------------------------------------------------------------------
# Monte Carlo over random subsets (weighted majority, and any strategy as a check)
# ----------------------------------------------------------------------------------------------

def random_prefix_masses(codes: np.ndarray, weights: np.ndarray | None, n_classes: int, ks: list[int],
                         n_draws: int, rng: np.random.Generator):
    """For R random orderings of each unit's solutions, yield ``(k, mass, count)`` with the per-class
    ``mass`` (weights summed, (P, R, C)) and ``count`` of the first ``min(k, n)`` solutions: a prefix of a
    uniformly random permutation is a uniformly random size-k subset.  One pass serves every k."""
    p, s = codes.shape
    idx_dtype = np.int16 if s < 2**15 else np.int32
    # position-major layout (S, P, R): the solutions added between two k's are one contiguous slab
    perm = rng.permuted(np.broadcast_to(np.arange(s, dtype=idx_dtype)[:, None, None], (s, p, n_draws)), axis=0)
    unit = np.arange(p)[None, :, None]
    pc = codes[unit, perm]
    if (codes == PAD).any():   # move padding to the end, keeping the random order of real solutions
        order = np.argsort(pc == PAD, axis=0, kind="stable")
        perm = np.take_along_axis(perm, order, axis=0)
        pc = np.take_along_axis(pc, order, axis=0)
    depth = min(s, max(int(x) for x in ks))          # only the first max(k) positions are ever read
    perm, pc = perm[:depth], pc[:depth]
    size = p * n_draws * n_classes
    # flat bin of each (position, unit, draw); nulls and padding go to a spare last bin
    flat = np.where(pc >= 0, (np.arange(p)[:, None] * n_draws + np.arange(n_draws)[None, :]) * n_classes + pc,
                    size)
    del pc
    pw = None
    if weights is not None:
        pw = np.nan_to_num(np.asarray(weights, dtype=float))[unit, perm]
    del perm
    mass = np.zeros(size + 1)
    count = np.zeros(size + 1)
    lo = 0
    for k in sorted(set(int(x) for x in ks)):
        hi = min(k, s)
        if hi > lo:
            seg = flat[lo:hi].ravel()
            count += np.bincount(seg, minlength=size + 1)
            if pw is not None:
                mass += np.bincount(seg, weights=pw[lo:hi].ravel(), minlength=size + 1)
            lo = hi
        c = count[:size].reshape(p, n_draws, n_classes)
        yield k, (mass[:size].reshape(p, n_draws, n_classes) if pw is not None else c), c


def weighted_majority_mc(codes: np.ndarray, reward: np.ndarray, value: np.ndarray, ks: list[int],
                         n_draws: int = 256, seed: int | np.random.Generator = 0,
                         max_elems: int = 20_000_000) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Reward-weighted majority vote at each k by Monte Carlo over ``n_draws`` random subsets.

    The answer with the largest sum of rewards in the subset wins (ties split, nulls never win).
    Returns ``{k: (mean, var)}`` per unit; the Monte-Carlo variance of a unit's mean is ``var / n_draws``.
    Rewards must be non-negative (a sum of negative scores is not a vote).
    """
    rng = np.random.default_rng(seed)
    reward = np.asarray(reward, dtype=float)
    valid = codes >= 0
    if (reward[valid] < 0).any():
        raise ValueError("weighted majority sums rewards per answer, so rewards must be >= 0; found "
                         f"{np.nanmin(reward[valid]):.4g}. Transform them first (e.g. sigmoid of logits).")
    return monte_carlo(codes, value, ks, n_draws, rng, weights=reward, max_elems=max_elems)


def monte_carlo(codes: np.ndarray, value: np.ndarray, ks: list[int], n_draws: int,
                rng: np.random.Generator, weights: np.ndarray | None = None,
                max_elems: int = 20_000_000) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Majority (``weights=None``) or weighted vote at each k by Monte Carlo; ``{k: (mean, var)}``."""
    p, s = codes.shape
    n_classes = value.shape[1]
    n = (codes != PAD).sum(axis=1)
    res = {}
    # exact where no sampling is needed: k = 1 (a vote of one is that solution's correctness) and
    # k >= n (the vote over every solution)
    for k in ks:
        if k == 1:
            cls_val = np.take_along_axis(value, np.maximum(codes, 0), axis=1)
            res[1] = (np.where(codes >= 0, cls_val, 0.0).sum(axis=1) / n, np.zeros(p))
    mc_ks = sorted({int(k) for k in ks if 1 < k < n.max()})
    full = vote_all(codes, value, weights) if any(k >= n.min() for k in ks) else None
    acc_mc = {k: (np.zeros(p), np.zeros(p)) for k in mc_ks}
    if mc_ks:
        per_unit = n_draws * max(min(s, max(mc_ks)), n_classes) * 3
        for sl in _chunks(p, max_elems // max(per_unit, 1)):
            w = None if weights is None else weights[sl]
            for k, mass, count in random_prefix_masses(codes[sl], w, n_classes, mc_ks, n_draws, rng):
                acc = vote(mass, count > 0, value[sl][:, None, :])
                acc_mc[k][0][sl] = acc.mean(axis=1)
                acc_mc[k][1][sl] = acc.var(axis=1, ddof=1) if n_draws > 1 else 0.0
    for k in ks:
        if k == 1:
            continue
        mean, var = acc_mc.get(int(k), (np.zeros(p), np.zeros(p)))
        whole = k >= n
        res[int(k)] = (np.where(whole, full if full is not None else 0.0, mean), np.where(whole, 0.0, var))
    return res


__all__ = ["pass_at_k", "best_of_k", "best_of_ks", "majority_at_k", "vote", "vote_all", "weighted_majority_mc",
           "monte_carlo", "random_prefix_masses", "log_binom", "NULL", "PAD"]


def majority_at_ks(codes: np.ndarray, value: np.ndarray, n: np.ndarray, ks, max_elems: int = 4_000_000) -> dict:
    """0.1.0 had no several-k entry point: :func:`majority_at_k` once per k (what its evaluate did)."""
    return {int(k): majority_at_k(codes, value, n, int(k), max_elems) for k in ks}

"""Exact and Monte-Carlo estimators of strategy accuracy at k, over (units x solutions) matrices.

Every function takes one row per unit (a problem) and returns one value per unit: the expected
accuracy over all size-k subsets drawn without replacement from the unit's ``n`` cached solutions.
When ``k > n`` for a unit, the unit uses all its ``n`` solutions (``k`` is capped at ``n``).

Ties are split: when several answers (or several top rewards) tie, the subset earns the fraction of
tied candidates that are correct, i.e. the expectation under a uniformly random tie-break.  A null
answer never wins a vote; a subset of null answers only scores 0.

Closed forms
------------
pass@k        ``1 - C(n - c, k) / C(n, k)`` (c correct solutions), evaluated as
              ``-expm1(log C(n-c, k) - log C(n, k))`` with exact log-binomials (:mod:`scaling.binom`),
              accurate near 0 and near 1.
best-of-k     order statistics: sort by reward; a reward level v held by m_v solutions (c_v correct) with
              b_v solutions below it is the subset's maximum with probability
              ``[C(b_v + m_v, k) - C(b_v, k)] / C(n, k)`` and then earns ``c_v / m_v``.
majority@k    exact, by generating functions over answer classes (:func:`majority_at_ks`, kernel in
              :mod:`scaling.majority`).
weighted      Monte Carlo over random subsets (:func:`weighted_majority_mc`), with its standard error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from scipy.special import gammaln

from .codes import NULL, PAD, class_mass
from .majority import log_comb, majority_counts

_TIE_RTOL = 1e-9


def log_binom(a: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """``log C(a, k)``; ``-inf`` where ``a < k`` (broadcasts).

    Integer arguments use the exact table of :func:`scaling.majority.log_comb` (correctly rounded);
    non-integer ones the log-gamma form."""
    a = np.asarray(a)
    k = np.asarray(k)
    if a.dtype.kind in "iub" and k.dtype.kind in "iub":
        return log_comb(a, k)
    a = a.astype(float)
    k = k.astype(float)
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

    >>> round(float(pass_at_k(np.array([4]), np.array([1]), 2)[0]), 12)
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

def majority_at_k(codes: np.ndarray, value: np.ndarray, n: np.ndarray, k: int,
                  max_elems: int = 4_000_000) -> np.ndarray:
    """Exact expected majority-vote accuracy over all size-k subsets (ties split, nulls never win).

    Let class i hold m_i of a unit's n solutions (m_0 nulls) and have value v_i.  A subset in which
    class j appears x times wins when every other class appears at most x times; with T other classes
    at exactly x it earns ``v_j / (1 + T)``:

        acc = Σ_j v_j Σ_x P(X_j = x, X_i <= x for all i ≠ j) E[1 / (1 + T) | ...]

    evaluated exactly by generating functions (:mod:`scaling.majority`).  Any number of classes may
    have a positive value (unmerged equivalent answers, inconsistent grading).  Example: classes of 3
    (right) and 2 (wrong) solutions, k = 3: the right class wins 7 of the C(5, 3) = 10 subsets.

    >>> round(float(majority_at_k(np.array([[0, 0, 0, 1, 1]]), np.array([[1.0, 0.0]]), np.array([5]), 3)[0]), 12)
    0.7
    """
    return majority_at_ks(codes, value, n, [k], max_elems=max_elems)[int(k)]


def majority_at_ks(codes: np.ndarray, value: np.ndarray, n: np.ndarray, ks: Iterable[int],
                   max_elems: int = 4_000_000) -> dict[int, np.ndarray]:
    """:func:`majority_at_k` for several k: ``{k: (P,) values}``, class counts computed once.

    Closed forms first: k >= n (the vote over every solution), one class holding more than
    ``n - k/2`` solutions (it wins every subset), a single answer class (``v · pass@k`` of the
    answered solutions), k = 1 (``Σ_i v_i m_i / n``), no positive value (0).  The rest goes to the
    exact kernel in chunks of ``max_elems / (16 n)`` units (~1,000 at n = 256: bounded memory)."""
    codes = np.asarray(codes)
    value = np.asarray(value, dtype=float)
    n = np.asarray(n, dtype=np.int64)
    n_classes = value.shape[1]
    counts = class_mass(codes, None, n_classes).astype(np.int64)
    rows = np.arange(len(n))
    top = counts.argmax(axis=1) if n_classes else np.zeros(len(n), dtype=np.int64)
    m_top = counts[rows, top] if n_classes else np.zeros(len(n), dtype=np.int64)
    answered = counts.sum(axis=1)
    n_cls = (counts > 0).sum(axis=1)
    has_val = (answered > 0) & ((value * (counts > 0)).max(axis=1, initial=0.0) > 0)
    full_vote = vote(counts.astype(float), counts > 0, value)
    mean_val = (value * counts).sum(axis=1) / np.maximum(n, 1)
    single_val = (value * (counts > 0)).sum(axis=1)
    chunk = max(1, int(max_elems) // max(16 * int(n.max(initial=1)), 1))
    out = {}
    for k in ks:
        kk = _cap(int(k), n)
        res = np.zeros(len(n))
        full = kk >= n
        res[full] = full_vote[full]
        sure = ~full & (2 * (n - m_top) < kk)
        res[sure] = value[rows[sure], top[sure]]
        single = ~full & ~sure & (n_cls == 1)
        if single.any():
            res[single] = single_val[single] * pass_at_k(n[single], answered[single], int(k))
        one = ~full & ~sure & ~single & (kk == 1)
        res[one] = mean_val[one]
        rest = np.flatnonzero(~full & ~sure & ~single & ~one & has_val)
        if len(rest):
            res[rest] = majority_counts(counts[rest], value[rest], n[rest], kk[rest], chunk=chunk)
        out[int(k)] = res
    return out


# ----------------------------------------------------------------------------------------------
# Monte Carlo over random subsets (weighted majority, and majority as a check)
# ----------------------------------------------------------------------------------------------

def uniform_prefixes(rows: int, n: int, depth: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, depth) int32: the first ``depth`` entries of ``rows`` independent uniform permutations of
    ``range(n)``.

    Each entry gets a random key whose low ``b = ceil(log2 n)`` bits are replaced by its index; one sort
    per row orders the indices by their random part.  A row in which two of its ``depth + 1`` smallest
    keys share the random part is drawn again, so every accepted prefix is exactly uniform (the event is
    symmetric in the indices).  Keys are 32-bit for n <= 1024 (>= 22 random bits), else 64-bit.

    >>> sorted(uniform_prefixes(1, 5, 5, np.random.default_rng(0))[0].tolist())
    [0, 1, 2, 3, 4]
    """
    bits = max(1, int(n - 1).bit_length())
    wide = bits > 10
    dtype = np.uint64 if wide else np.uint32
    mask = dtype((1 << bits) - 1)
    idx = np.arange(n, dtype=dtype)
    out = np.empty((rows, depth), dtype=np.int32)
    todo = np.arange(rows)
    d1 = min(depth + 1, n)
    while len(todo):
        m = len(todo)
        raw = rng.bit_generator.random_raw(m * n if wide else (m * n + 1) // 2)
        keys = (raw if wide else raw.view(np.uint32)[:m * n]).reshape(m, n)
        keys &= ~mask
        keys |= idx
        keys.sort(axis=1)
        tie = ((keys[:, 1:d1] ^ keys[:, :d1 - 1]) <= mask).any(axis=1)
        ok = ~tie
        out[todo[ok]] = (keys[ok, :depth] & mask).astype(np.int32)
        todo = todo[tie]
    return out


def _unit_prefixes(n: np.ndarray, s: int, n_draws: int, depth: int, rng: np.random.Generator) -> np.ndarray:
    """(P * R, depth) positions of ``n_draws`` random orderings of each unit's first ``n`` columns
    (positions past a unit's ``n`` come last, in the order drawn)."""
    p = len(n)
    if (n == s).all():
        return uniform_prefixes(p * n_draws, s, depth, rng)
    perm = uniform_prefixes(p * n_draws, s, s, rng)
    pad = perm >= np.repeat(n, n_draws)[:, None]
    order = np.argsort(pad, axis=1, kind="stable")
    return np.take_along_axis(perm, order[:, :depth], axis=1)


def random_prefix_masses(codes: np.ndarray, weights: np.ndarray | None, n_classes: int, ks: list[int],
                         n_draws: int, rng: np.random.Generator) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For R random orderings of each unit's solutions, yield ``(k, mass, count)`` with the per-class
    ``mass`` (weights summed, (P, R, C)) and ``count`` of the first ``min(k, n)`` solutions: a prefix of a
    uniformly random permutation is a uniformly random size-k subset.  One pass serves every k."""
    p, s = codes.shape
    n = (codes != PAD).sum(axis=1)
    depth = min(s, max(int(x) for x in ks))
    perm = _unit_prefixes(n, s, n_draws, depth, rng).reshape(p, n_draws, depth)
    unit = np.arange(p)[:, None, None]
    pc = codes[unit, perm]
    size = p * n_draws * n_classes
    flat = np.where(pc >= 0, (np.arange(p)[:, None, None] * n_draws + np.arange(n_draws)[None, :, None])
                    * n_classes + pc, size)
    pw = None if weights is None else np.nan_to_num(np.asarray(weights, dtype=float))[unit, perm]
    mass = np.zeros(size + 1)
    count = np.zeros(size + 1)
    lo = 0
    for k in sorted({int(x) for x in ks}):
        hi = min(k, depth)
        if hi > lo:
            seg = flat[:, :, lo:hi].ravel()
            count += np.bincount(seg, minlength=size + 1)
            if pw is not None:
                mass += np.bincount(seg, weights=pw[:, :, lo:hi].ravel(), minlength=size + 1)
            lo = hi
        c = count[:size].reshape(p, n_draws, n_classes)
        yield k, (mass[:size].reshape(p, n_draws, n_classes) if pw is not None else c), c


def weighted_majority_mc(codes: np.ndarray, reward: np.ndarray, value: np.ndarray, ks: list[int],
                         n_draws: int = 256, seed: int | np.random.Generator = 0,
                         max_elems: int = 20_000_000) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Reward-weighted majority vote at each k by Monte Carlo over ``n_draws`` random subsets.

    The answer with the largest sum of rewards in the subset wins (ties split, nulls never win).
    Returns ``{k: (mean, var)}`` per unit; the Monte-Carlo variance of a unit's mean is ``var / n_draws``.
    k = 1 and k >= n are exact (variance 0).  Rewards must be non-negative (a sum of negative scores is
    not a vote).  Example: one unit, answers a (reward 1), b (reward 3), a (reward 1), a right: the vote
    of all three gives a 2.0 against b 3.0, so b wins and the vote scores 0.

    >>> float(weighted_majority_mc(np.array([[0, 1, 0]]), np.array([[1.0, 3.0, 1.0]]),
    ...                            np.array([[1.0, 0.0]]), [3])[3][0][0])
    0.0
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
    """Majority (``weights=None``) or weighted vote at each k by Monte Carlo; ``{k: (mean, var)}``.

    Estimator: the first k entries of a uniform random permutation of a unit's solutions are a uniform
    size-k subset, so ``n_draws`` permutations per unit serve every k (nested prefixes).  Per chunk of
    units the class masses of the prefixes grow by one ``bincount`` per k; the vote compares the correct
    class (slot 0) with the largest wrong class (a max over contiguous slabs), and falls back to the exact
    :func:`vote` for ties within the relative tolerance 1e-9, for all-zero masses and for units whose
    values are not one right class among 0/1 values.  k = 1 and k >= n are exact."""
    codes = np.asarray(codes)
    value = np.asarray(value, dtype=float)
    p, s = codes.shape
    n = (codes != PAD).sum(axis=1)
    res: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if any(int(k) == 1 for k in ks):
        cls_val = np.take_along_axis(value, np.maximum(codes, 0), axis=1)
        res[1] = (np.where(codes >= 0, cls_val, 0.0).sum(axis=1) / n, np.zeros(p))
    mc_ks = sorted({int(k) for k in ks if 1 < int(k) < n.max()})
    full = vote_all(codes, value, weights) if any(int(k) > 1 for k in ks) else None
    if mc_ks:
        mean, var = _mc_means(codes, value, n, weights, mc_ks, n_draws, rng, max_elems)
        for k in mc_ks:
            whole = k >= n
            res[k] = (np.where(whole, full, mean[k]), np.where(whole, 0.0, var[k]))
    for k in ks:
        if int(k) not in res:
            res[int(k)] = (full.copy(), np.zeros(p))
    return res


_MC_CHUNK_ELEMS = 1 << 17      # (classes + 2) * draws * units per chunk: the vote's slabs stay in cache


def _mc_means(codes, value, n, weights, mc_ks, n_draws, rng, max_elems):
    """Per-unit mean and variance over ``n_draws`` nested random prefixes at every k of ``mc_ks``."""
    p, s = codes.shape
    n_classes = value.shape[1]
    r = n_draws
    depth = min(s, max(mc_ks))
    pos = value > 0
    simple = np.isin(value, (0.0, 1.0)).all(axis=1) & (pos.sum(axis=1) <= 1)
    jc = np.where(pos.any(axis=1), pos.argmax(axis=1), -1)
    # slot of each solution: 0 = the (first) right class, 1 + c = class c otherwise, C + 1 = null/padding
    slot = np.where(codes < 0, n_classes + 1, np.where(codes == jc[:, None], 0, codes + 1)).astype(np.int64)
    sol_w = None if weights is None else np.nan_to_num(np.asarray(weights, dtype=float))
    mean = {k: np.zeros(p) for k in mc_ks}
    var = {k: np.zeros(p) for k in mc_ks}
    per_unit = r * (n_classes + 2)
    step = max(1, min(_MC_CHUNK_ELEMS, max_elems // max(depth, 1)) // per_unit)
    for a in range(0, p, step):
        b = min(p, a + step)
        qr = (b - a) * r
        perm = _unit_prefixes(n[a:b], s, r, depth, rng)
        src = np.empty((depth, qr), dtype=np.int32)                           # position-major (depth, QR)
        np.add(perm.T, np.repeat(np.arange(b - a, dtype=np.int32) * s, r)[None, :], out=src)
        bins = (slot[a:b] * qr).ravel()[src]                                    # flat bin: slot * QR + column
        bins += np.arange(qr)[None, :]
        wf = None if sol_w is None else sol_w[a:b].ravel()[src]
        size = (n_classes + 2) * qr
        mass = np.zeros(size)
        lo = 0
        for k in mc_ks:
            hi = min(k, depth)
            if hi > lo:
                w = None if wf is None else wf[lo:hi].ravel()
                mass += np.bincount(bins[lo:hi].ravel(), weights=w, minlength=size)
                lo = hi
            acc = _slab_vote(mass.reshape(n_classes + 2, qr), bins[:hi], value[a:b], jc[a:b],
                             np.repeat(~simple[a:b], r), r).reshape(b - a, r)
            mean[k][a:b] = acc.mean(axis=1)
            var[k][a:b] = acc.var(axis=1, ddof=1) if r > 1 else 0.0
    return mean, var


def _slab_vote(slabs: np.ndarray, bins: np.ndarray, value: np.ndarray, jc: np.ndarray, hard: np.ndarray,
               r: int) -> np.ndarray:
    """Vote of each (unit, draw) column from its slot masses ``slabs`` (C + 2, QR); see :func:`monte_carlo`."""
    c2, qr = slabs.shape
    n_classes = c2 - 2
    mj = slabs[0]
    mw = slabs[1:n_classes + 1].max(axis=0)
    top = np.maximum(mw, mj)
    tol = _TIE_RTOL * top
    acc = ((mj > mw + tol) & (mj > 0)).astype(float)
    unsure = hard | ((np.abs(mj - mw) <= tol) & (mj > 0)) | ((mw == 0) & (mj == 0))
    col = np.flatnonzero(unsure)
    if len(col):
        unit = col // r
        sl = bins[:, col] // qr                                               # slot of each drawn solution
        cnt = np.zeros((len(col), c2))
        np.add.at(cnt, (np.broadcast_to(np.arange(len(col)), sl.shape), sl), 1.0)
        mcls = slabs[:, col].T
        cls_mass = mcls[:, 1:n_classes + 1].copy()
        cls_cnt = cnt[:, 1:n_classes + 1].copy()
        hj = jc[unit] >= 0
        cls_mass[hj, jc[unit][hj]] = mcls[hj, 0]
        cls_cnt[hj, jc[unit][hj]] = cnt[hj, 0]
        acc[col] = vote(cls_mass, cls_cnt > 0, value[unit])
    return acc


__all__ = ["pass_at_k", "best_of_k", "best_of_ks", "majority_at_k", "majority_at_ks", "vote", "vote_all",
           "weighted_majority_mc", "monte_carlo", "random_prefix_masses", "uniform_prefixes", "log_binom",
           "NULL", "PAD"]

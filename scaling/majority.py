"""Exact majority@k kernel: binomialised generating functions, evaluated on the unit circle.

Problem (one unit): answer class i holds ``m_i`` of the ``n`` solutions (``m_0`` nulls) and has value
``v_i``; a size-k subset drawn uniformly without replacement holds ``X_i`` solutions of class i.  Class
j wins with ``X_j = x`` when every other class has ``X_i <= x``, and with ``T`` other classes tied at x
it earns ``v_j / (1 + T)`` (ties split).  Then

    acc = Σ_j v_j Σ_x P(X_j = x, X_i <= x ∀ i ≠ j, 1 / (1 + T)).

**Binomialisation.**  Include every solution independently with probability ``p = k / n``: classes
become independent ``Y_i ~ Bin(m_i, p)`` and, conditioned on ``Σ Y = k``, the included set is a uniform
size-k subset.  With ``1 / (1 + T) = ∫_0^1 u^T du``,

    acc = Σ_j v_j Σ_x pmf_j(x) [z^(k-x)] ∫_0^1 φ_0(z) Π_{i ≠ j} (A_i(x, z) + u t_i(x, z)) du / P(Σ Y = k)

with ``A_i(x, z) = Σ_{y < x} pmf_i(y) z^y`` (a partial characteristic function), ``t_i = pmf_i(x) z^x``
and ``φ_0 = (q + p z)^(m_0)``.  The u-integrand is a polynomial of degree ``<= min(#others, k // x - 1)``
and is integrated exactly by Gauss-Legendre; ``[z^k]`` is the trapezoidal rule on ``|z| = 1`` with L
points, L chosen so that aliasing from ``z^(k ± L)`` is below 1e-17 (coefficients are bounded by the
``Bin(n, p)`` pmf).  Real coefficients give conjugate symmetry, so only ``l = 0 .. L/2`` is evaluated.

**Layout.**  Classes of equal size share one factor ("size groups"), multiplied in once per class.  For
each (unit, size group) one table of ``t(y)`` and the running sums ``A(y)`` over a window ``[y_lo, x_top]``
at the trapezoid points serves every x; rows ``(unit, correct class j, x)`` then multiply the factors
they need, all rows of a chunk of units at once (a loop over factor rank, not over x).  Any number of
classes may be correct (unmerged equivalent answers, inconsistent grading): each is a row set of its own.

**Pruning.**  Each cut below changes a unit's value by less than its bound (e^-41.5 ~ 1e-18 per dropped
row or folded class, e^-43.7 per cut table tail); measured against far tighter cuts (e^-80) the values
move by at most 3e-16 at n = 256 and 1024.

* a row is dropped when ``P(X_j = x) · Π_i B_i < e^-41.5`` where ``B_i`` is the Chernoff bound
  ``exp(-d · KL(x/d || m_i/(n - m_j)))`` (``d = k - x``) on ``P(X_i <= x | X_j = x)``: given ``X_j`` the
  others are multivariate hypergeometric, negatively associated, so ``P(∩ {X_i <= x}) <= Π P(X_i <= x)``,
  and Chernoff bounds hold without replacement (Hoeffding 1963);
* a row is dropped when the others cannot hold the ``k - x`` remaining draws with at most x each
  (``m_0 + Σ_{i≠j} min(m_i, x) < k - x``): exact, its probability is 0;
* a class whose chance of reaching x is below e^-41.5 (Chernoff upper tail of ``X_i``) is folded into
  the plain binomial ``(q + p z)^m`` (exact for ``m_i < x``);
* each table starts at ``y_lo``, the largest value with ``P(Y_g < y_lo) <= e^-43.7`` (Chernoff lower tail).

**Rounding.**  Log-binomials come from exact integers as double-doubles (:func:`log_comb`, below), and
the weights of an included / excluded solution are ``e^lp`` and ``e^lq`` with ``lp``, ``lq`` the logs of
``k/n`` and ``1 - k/n`` rounded to multiples of 2^-20: every log-weight ``log C(m, y) + y lp + (m - y) lq``
is then an exact float64 sum plus one small remainder, and the folded binomial uses the same measure
(``(e^lq + e^lp z)^M = e^(M LS) ((1 - π) + π z)^M`` with ``LS``, ``π`` from 40-digit decimals).  Values
agree with exact rational arithmetic to ~1e-15 (``gammaln`` and rounded ``log p`` gave ~5e-14 at n = 60,
~5e-13 at n = 256).

>>> counts = np.array([[3, 2]]); value = np.array([[1.0, 0.0]])    # classes of 3 (right) and 2, no nulls
>>> round(float(majority_counts(counts, value, np.array([5]), np.array([3]))[0]), 12)   # 7 of 10 subsets
0.7
"""

from __future__ import annotations

import decimal
from functools import lru_cache

import numpy as np
from scipy.special import gammaln, xlogy

# ----------------------------------------------------------------------------------------------
# Exact log-binomial coefficients (used here and by scaling.estimators for pass@k)
# ----------------------------------------------------------------------------------------------
# Log-binomial coefficients from exact integers: ``log C(a, b)`` correctly rounded, not ``gammaln``'s.
#
# ``gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)`` subtracts numbers of size ``a log a`` and loses
# ``~1e-16 · a log a`` to cancellation (``~5e-13`` at ``a = 1024``), which an exact estimator then carries
# into every value.  Here ``log a!`` is held as a double-double ``H[a] + L[a]``: ``H[a]`` is ``log a!``
# rounded to a multiple of ``2^-20`` (so sums and differences of three ``H`` are exact in float64 for
# ``log a! < 2^32``) and ``L[a]`` the remainder (``|L| <= 2^-21``, accurate to ~1e-22).  ``log a!`` itself
# comes from 40-digit ``decimal`` logarithms of the primes up to ``a`` (every ``log i`` is a sum of them);
# the table is built once per process and grown as needed (~40 ms for ``a <= 2,048``, ~0.4 s to 32,768).
#

_GRID = 2.0 ** 20                 # H[a] lies on this grid: |H| < 2^32 keeps three-term sums exact
_EXACT_MAX = 1 << 20              # beyond this ``a``, fall back to gammaln (the table would be large)
_LOG_FACT: dict[str, np.ndarray] = {"H": np.zeros(1), "L": np.zeros(1)}


def _build(n_max: int) -> None:
    """Grow the ``log a!`` tables to cover ``a <= n_max`` (capacity rounded up to a power of two)."""
    size = 1 << max(10, int(n_max).bit_length())
    ctx = decimal.Context(prec=40)
    # log i for every i <= size from the logs of the primes (a sieve of smallest prime factors)
    spf = np.zeros(size + 1, dtype=np.int64)
    for i in range(2, size + 1):
        if spf[i] == 0:
            spf[i: size + 1: i][spf[i: size + 1: i] == 0] = i
    log_i = [decimal.Decimal(0)] * (size + 1)
    for i in range(2, size + 1):
        p = int(spf[i])
        log_i[i] = ctx.ln(decimal.Decimal(i)) if p == i else ctx.add(log_i[p], log_i[i // p])
    hi = np.zeros(size + 1)
    lo = np.zeros(size + 1)
    acc = decimal.Decimal(0)
    for a in range(1, size + 1):
        acc = ctx.add(acc, log_i[a])
        h = float(round(acc * int(_GRID))) / _GRID
        hi[a] = h
        lo[a] = float(ctx.subtract(acc, decimal.Decimal(h)))
    _LOG_FACT["H"], _LOG_FACT["L"] = hi, lo


def log_comb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log C(a, b)`` for integer arrays (broadcast), ``-inf`` where ``b < 0`` or ``b > a``.

    Correctly rounded up to ~1e-22 (the double-double ``log a!`` table above); for ``a > 2^20`` it
    falls back to ``gammaln``.  Example: ``log_comb(4, 2) = log 6``.

    >>> bool(log_comb(np.array(4), np.array(2)) == np.log(6))
    True
    """
    a = np.asarray(a)
    b = np.asarray(b)
    ok = (b >= 0) & (a >= b)
    aa = np.where(ok, a, 0).astype(np.int64)
    bb = np.where(ok, b, 0).astype(np.int64)
    top = int(aa.max(initial=0))
    if top > _EXACT_MAX:
        af, bf = aa.astype(float), bb.astype(float)
        out = gammaln(af + 1) - gammaln(bf + 1) - gammaln(af - bf + 1)
        return np.where(ok, out, -np.inf)
    if top >= len(_LOG_FACT["H"]):
        _build(top)
    h, lo = _LOG_FACT["H"], _LOG_FACT["L"]
    cc = aa - bb
    out = (h[aa] - h[bb] - h[cc]) + (lo[aa] - lo[bb] - lo[cc])
    return np.where(ok, out, -np.inf)


def log_comb_parts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log C(a, b)`` as ``(hi, lo)``: ``hi`` exact on the grid of multiples of ``2^-20``, ``|lo| < 2^-19``.

    Sums of ``hi`` with other grid values (e.g. ``y * lp`` for a grid ``lp``) are exact in float64, so a
    long sum of log terms keeps ~1e-22 absolute accuracy until its one final rounding.  Integer
    ``0 <= b <= a <= 2^20`` only (raises otherwise).

    >>> hi, lo = log_comb_parts(np.array(4), np.array(2)); bool(hi + lo == np.log(6))
    True
    """
    a = np.asarray(a).astype(np.int64)
    b = np.asarray(b).astype(np.int64)
    if (b < 0).any() or (a < b).any() or int(a.max(initial=0)) > _EXACT_MAX:
        raise ValueError("log_comb_parts needs integers 0 <= b <= a <= 2^20")
    if int(a.max(initial=0)) >= len(_LOG_FACT["H"]):
        _build(int(a.max()))
    h, lo = _LOG_FACT["H"], _LOG_FACT["L"]
    c = a - b
    return h[a] - h[b] - h[c], lo[a] - lo[b] - lo[c]


def grid_round(x: float | decimal.Decimal) -> float:
    """``x`` rounded to the nearest multiple of ``2^-20`` (exact in float64 for ``|x| < 2^32``)."""
    return float(round(decimal.Decimal(x) * int(_GRID))) / _GRID


LOG_TINY = -41.5      # rows / classes whose bound is below e^-41.5 ~ 1e-18 are dropped / folded
LOG_LOW_CUT = 43.7    # table entries below a lower tail of e^-43.7 ~ 1e-19 are cut
CHUNK = 256           # units per chunk by default (larger chunks amortise numpy's per-call overhead)


def _kl(a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Bernoulli KL divergence ``KL(a || p)`` with ``0 log 0 = 0`` (the Chernoff exponent)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return xlogy(a, a / p) + xlogy(1 - a, (1 - a) / (1 - p))


@lru_cache(maxsize=64)
def _gauss01(nq: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1]: exact for polynomials of degree <= 2 nq - 1."""
    u, w = np.polynomial.legendre.leggauss(nq)
    return (u + 1) / 2, w / 2


@lru_cache(maxsize=64)
def _twiddles(n_pts: int) -> np.ndarray:
    """``E[r, l] = exp(2 pi i r l / L)`` for r < L and the half circle l <= L / 2."""
    rl = np.outer(np.arange(n_pts), np.arange(n_pts // 2 + 1)) % n_pts      # exact reduction first
    return np.exp(1j * (2 * np.pi / n_pts) * rl)


@lru_cache(maxsize=64)
def _circle(n_pts: int) -> tuple[np.ndarray, np.ndarray]:
    """``2 sin²(θ/2) = 1 - cos θ`` and ``sin θ`` at the half-circle points ``θ_l = 2 pi l / L``."""
    theta = 2 * np.pi / n_pts * np.arange(n_pts // 2 + 1)
    return 2 * np.sin(theta / 2) ** 2, np.sin(theta)


def _folded(m: np.ndarray, pi_w: np.ndarray, n_pts: int) -> np.ndarray:
    """``((1 - π) + π w_l)^M`` at the half-circle points, for each (M, π) pair (rows).

    ``log(1 - π + π w) = ½ log1p(-2π(1-π)(1 - cos θ)) + i atan2(π sin θ, 1 - π(1 - cos θ))`` keeps full
    relative accuracy near ``θ = 0`` (numpy's complex ``log1p`` computes ``log(1 + z)`` and loses
    ~1e-16 absolute there, which M then multiplies)."""
    s2, sn = _circle(n_pts)
    pw, mm = pi_w[:, None], m[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        re = 0.5 * np.log1p(-2 * pw * (1 - pw) * s2)     # -inf where 1 - π + π w = 0 (π = ½, θ = π)
        mag = np.exp(np.where(mm > 0, mm * re, 0.0))     # M = 0: factor 1 (0 · -inf is not evaluated)
    return mag * np.exp(1j * (mm * np.arctan2(pw * sn, 1 - pw * s2)))


def _pairs(n: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (n, k) pairs of the units and the pair index of each unit."""
    n = np.asarray(n, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    base = int(k.max(initial=0)) + 1
    key, inv = np.unique(n * base + k, return_inverse=True)
    return key // base, key % base, np.asarray(inv).reshape(-1)


@lru_cache(maxsize=4096)
def _points_for(n: int, k: int) -> int:
    if n + 1 <= 24:
        return n + 1
    cand = np.arange(16, n + 2, 4)
    lp, lq = np.log(k / n), np.log1p(-k / n)

    def logpmf(d: np.ndarray) -> np.ndarray:
        return log_comb(n, d) + d * lp + (n - d) * lq

    ok = np.maximum(logpmf(k + cand), logpmf(k - cand)) - logpmf(k) < -39   # e^-39 ~ 1e-17
    return int(cand[np.argmax(ok)]) if ok.any() else n + 1


def n_points(n: np.ndarray, k: np.ndarray) -> int:
    """Fewest trapezoid points L for which aliasing stays below 1e-17 for every (n, k) pair.

    Coefficients of the normalised generating function are bounded by the ``Bin(n, k/n)`` pmf, so the
    coefficient aliased onto ``z^k`` from ``z^(k ± jL)`` is at most ``pmf(k ± jL) / pmf(k)`` (decreasing
    in L); with ``L > n`` there is no aliasing at all."""
    nn, kk, _ = _pairs(n, k)
    return max(_points_for(int(a), int(b)) for a, b in zip(nn, kk, strict=True))


@lru_cache(maxsize=4096)
def _measure(n: int, k: int) -> tuple[float, float, float, float]:
    """Grid logs ``lp``, ``lq`` of ``k/n`` and ``1 - k/n``; ``LS = log(e^lp + e^lq)`` (~2^-21) and
    ``π = e^lp / (e^lp + e^lq)``, from 40-digit decimal arithmetic."""
    ctx = decimal.Context(prec=40)
    p = ctx.divide(decimal.Decimal(k), decimal.Decimal(n))
    lp = grid_round(ctx.ln(p))
    lq = grid_round(ctx.ln(ctx.subtract(decimal.Decimal(1), p)))
    ep, eq = ctx.exp(decimal.Decimal(lp)), ctx.exp(decimal.Decimal(lq))
    tot = ctx.add(ep, eq)
    return lp, lq, float(ctx.ln(tot)), float(ctx.divide(ep, tot))


def _measures(n: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`_measure` per unit (computed once per distinct (n, k))."""
    nn, kk, inv = _pairs(n, k)
    vals = np.array([_measure(int(a), int(b)) for a, b in zip(nn, kk, strict=True)]).reshape(-1, 4)
    return tuple(vals[inv, i] for i in range(4))


def size_groups(counts: np.ndarray, value: np.ndarray):
    """Per unit: distinct class sizes (descending) and their multiplicities, and the correct classes.

    Returns ``gsize, gmult`` (P, G) and, for the classes with positive value and count ("slots"),
    ``slot_size, slot_val, slot_group`` (P, J): size, value and size-group index of each."""
    p, _ = counts.shape
    sizes = -np.sort(-counts, axis=1)
    new = np.ones_like(sizes, dtype=bool)
    new[:, 1:] = sizes[:, 1:] != sizes[:, :-1]
    new &= sizes > 0
    g = max(int(new.sum(axis=1).max(initial=0)), 1)
    gsize = np.zeros((p, g), dtype=np.int64)
    gmult = np.zeros((p, g), dtype=np.int64)
    gid = np.cumsum(new, axis=1) - 1
    rows = np.broadcast_to(np.arange(p)[:, None], sizes.shape)
    ok = sizes > 0
    gsize[rows[ok], gid[ok]] = sizes[ok]
    np.add.at(gmult, (rows[ok], gid[ok]), 1)
    pos = (value > 0) & (counts > 0)
    j = max(int(pos.sum(axis=1).max(initial=0)), 1)
    slot_size = np.zeros((p, j), dtype=np.int64)
    slot_val = np.zeros((p, j))
    rank = np.cumsum(pos, axis=1) - 1
    r, c = np.nonzero(pos)
    slot_size[r, rank[r, c]] = counts[r, c]
    slot_val[r, rank[r, c]] = value[r, c]
    slot_group = np.argmax(gsize[:, None, :] == slot_size[:, :, None], axis=2)
    return gsize, gmult, slot_size, slot_val, slot_group


def majority_counts(counts: np.ndarray, value: np.ndarray, n: np.ndarray, k: np.ndarray,
                    chunk: int = CHUNK) -> np.ndarray:
    """Exact majority@k per unit from class ``counts`` (P, C), class ``value`` (P, C), ``n`` and ``k``
    (P,) with ``1 <= k < n`` (nulls are ``n - Σ counts``).  Formula and pruning: module docstring.

    Units are processed in chunks of ``chunk`` (sorted by n so a chunk shares its trapezoid size)."""
    counts = np.asarray(counts, dtype=np.int64)
    value = np.asarray(value, dtype=float)
    n = np.asarray(n, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    out = np.zeros(len(n))
    groups = size_groups(counts, value)
    order = np.lexsort((k, n))
    for lo in range(0, len(order), max(1, chunk)):
        r = order[lo:lo + max(1, chunk)]
        out[r] = _chunk(*(a[r] for a in groups), n[r], k[r])
    return out


def _rows(gsize, gmult, slot_size, slot_val, slot_group, n, k):
    """Rows ``(unit, slot, x)`` that survive the pruning, with their active size groups (R, G)."""
    _, g = gsize.shape
    xmax = int(min(k.max(), slot_size.max()))
    xs = np.arange(1, xmax + 1)
    lcn = log_comb(n, k)[:, None]
    parts = []
    for s in range(slot_size.shape[1]):
        m_s = slot_size[:, s:s + 1]
        lpx = log_comb(m_s, xs[None, :]) + log_comb(n[:, None] - m_s, k[:, None] - xs[None, :]) - lcn
        a, b = np.nonzero((lpx > LOG_TINY) & (slot_val[:, s:s + 1] > 0))
        parts.append((a, np.full(len(a), s), b + 1, lpx[a, b]))
    pi, si, x, lpx = (np.concatenate(z) for z in zip(*parts, strict=True))
    # exact capacity: the others (nulls included) must hold the k - x remaining draws, at most x each
    jg = slot_group[pi, si]
    others = gmult[pi] - (np.arange(g)[None, :] == jg[:, None])          # other classes of each size
    gs = gsize[pi]
    draws = k[pi] - x
    nulls = n[pi] - (gs * gmult[pi]).sum(axis=1)
    ok = nulls + (np.minimum(gs, x[:, None]) * others).sum(axis=1) >= draws
    pi, si, x, lpx, jg, others, gs, draws = (a[ok] for a in (pi, si, x, lpx, jg, others, gs, draws))
    # P(X_i <= x | X_j = x) <= exp(-draws KL(x / draws || m_i / (n - m_j))), multiplied over the others
    frac = np.broadcast_to(np.where(draws > 0, x / np.maximum(draws, 1), 2.0)[:, None], gs.shape)
    share = gs / np.maximum(n[pi] - slot_size[pi, si], 1)[:, None]
    below = (frac < share) & (others > 0)
    expo = np.zeros(gs.shape)
    expo[below] = _kl(frac[below], share[below]) * others[below]
    ok = lpx - draws * expo.sum(axis=1) > LOG_TINY
    pi, si, x, jg, gs = (a[ok] for a in (pi, si, x, jg, gs))
    # size groups that can reach x: Chernoff upper tail of X_i (k draws from n)
    share_n = gs / n[pi, None]
    fx = np.broadcast_to((x / k[pi])[:, None], gs.shape)
    act = gs >= x[:, None]
    tail = act & (fx > share_n)
    act[tail] = (-np.broadcast_to(k[pi, None], gs.shape)[tail] * _kl(fx[tail], share_n[tail])) > LOG_TINY
    ok = act[np.arange(len(x)), jg]
    return pi[ok], si[ok], x[ok], jg[ok], act[ok]


def _tables(gsize, used, pi, x, p, lp, lq, twid):
    """One table per (unit, size group) in use: ``t(y) = pmf(y) w^y`` and ``A(y) = Σ_{y_lo <= y' < y} t(y')``
    for ``y`` in ``[y_lo, x_top]``, stored ragged and position-major (segments sorted by width).

    Returns ``seg_id`` (P, G), ``y_lo``, ``off`` (start of each position d) and the tables ``A``, ``T``."""
    p_units, g = gsize.shape
    x_top = np.zeros((p_units, g), dtype=np.int64)
    rr, gg = np.nonzero(used)
    np.maximum.at(x_top, (pi[rr], gg), x[rr])
    sp, sg = np.nonzero(x_top > 0)
    m_seg, p_seg = gsize[sp, sg], p[sp]
    # y_lo: largest y with P(Y <= y - 1) <= e^-LOW_CUT by the Chernoff bound (bisection on y - 1)
    ok0 = -m_seg * lq[sp] >= LOG_LOW_CUT
    lo = np.where(ok0, 0, -1)
    hi = np.where(ok0, np.floor(m_seg * p_seg).astype(np.int64), -1)
    while (hi - lo > 1).any():
        open_ = hi - lo > 1
        mid = (lo + hi) // 2
        good = m_seg * _kl(mid / m_seg, p_seg) >= LOG_LOW_CUT
        lo = np.where(open_ & good, mid, lo)
        hi = np.where(open_ & ~good, mid, hi)
    y_lo = np.minimum(lo + 1, x_top[sp, sg])
    width = x_top[sp, sg] - y_lo + 1
    order = np.argsort(-width, kind="stable")
    sp, sg, y_lo, width, m_seg = sp[order], sg[order], y_lo[order], width[order], m_seg[order]
    seg_id = np.full((p_units, g), -1, dtype=np.int64)
    seg_id[sp, sg] = np.arange(len(sp))
    if not len(sp):                                           # no row multiplies any factor
        empty = np.zeros((0, twid.shape[1]), dtype=complex)
        return seg_id, y_lo, np.zeros(1, dtype=np.int64), 1, empty, empty
    wmax = int(width.max())
    cnt = len(width) - np.searchsorted(width[::-1], np.arange(wmax), side="right")   # segments wider than d
    off = np.concatenate([[0], np.cumsum(cnt)])
    d_idx = np.repeat(np.arange(wmax), cnt)
    s_idx = np.arange(off[-1]) - off[d_idx]
    yv = y_lo[s_idx] + d_idx
    ms = m_seg[s_idx]
    u = sp[s_idx]
    hi, lo_part = log_comb_parts(ms, yv)
    pmf = np.exp((hi + yv * lp[u] + (ms - yv) * lq[u]) + lo_part)          # exact sum, one rounding
    t_tab = pmf[:, None] * twid[yv % twid.shape[0]]
    a_tab = np.empty_like(t_tab)
    a_tab[:cnt[0]] = 0.0
    for d in range(1, wmax):
        c, a0 = cnt[d], off[d - 1]
        np.add(a_tab[a0:a0 + c], t_tab[a0:a0 + c], out=a_tab[off[d]:off[d] + c])
    return seg_id, y_lo, off, wmax, a_tab, t_tab


def _chunk(gsize, gmult, slot_size, slot_val, slot_group, n, k) -> np.ndarray:
    """Exact majority@k for one chunk of units (all with ``1 <= k < n`` and a correct class)."""
    p_units, g = gsize.shape
    p = k / n
    lp, lq, ls, pi_w = _measures(n, k)
    pi, si, x, jg, act = _rows(gsize, gmult, slot_size, slot_val, slot_group, n, k)
    if not len(x):
        return np.zeros(p_units)
    gm = gmult[pi] * act                                      # active classes of each size group
    e = gm - (np.arange(g)[None, :] == jg[:, None])           # exponent of each group's factor
    m_act = (gsize[pi] * gm).sum(axis=1)                      # solutions in active classes (incl. j)
    deg = np.minimum(gm.sum(axis=1) - 1, k[pi] // x - 1)      # u-degree: ties need x (1 + T) <= k
    nq = np.maximum(1, (deg + 2) // 2)
    n_pts = n_points(n, k)
    twid = _twiddles(n_pts)
    used = e > 0
    seg_id, y_lo, off, wmax, a_tab, t_tab = _tables(gsize, used, pi, x, p, lp, lq, twid)
    prod, ro = _products(seg_id, y_lo, off, wmax, a_tab, t_tab, used, e, pi, x, nq)
    # Σ_q w_q Π(u_q) per row, times the folded binomial (q + p w)^M and w^(x - k), then [z^k]
    pi, si, x, m_act, nq = pi[ro], si[ro], x[ro], m_act[ro], nq[ro]
    acc = np.add.reduceat(prod, np.cumsum(nq) - nq, axis=0)
    big = int(n.max()) + 1
    key = pi * big + (n[pi] - m_act)
    ukey, inv = np.unique(key, return_inverse=True)
    phi = _folded(ukey % big, pi_w[ukey // big], n_pts)
    h = acc * phi[inv]
    h *= twid[(x - k[pi]) % n_pts]
    cl = np.full(twid.shape[1], 2.0)
    cl[0] = 1.0
    if n_pts % 2 == 0:
        cl[-1] = 1.0
    # v_j pmf_j(x) e^(M LS) / P(Σ Y = k): grid parts summed exactly, remainders added once
    m_j, nn, kk = slot_size[pi, si], n[pi], k[pi]
    hj, lj = log_comb_parts(m_j, x)
    hn, ln_ = log_comb_parts(nn, kk)
    lw = ((hj - hn + (x - kk) * lp[pi] + ((m_j - x) - (nn - kk)) * lq[pi])
          + ((lj - ln_) + (nn - m_act) * ls[pi]))
    val = (h.real @ cl) * slot_val[pi, si] * np.exp(lw) / n_pts
    return np.clip(np.bincount(pi, weights=val, minlength=p_units), 0.0, 1.0)


def _products(seg_id, y_lo, off, wmax, a_tab, t_tab, used, e, pi, x, nq):
    """``Π_g (A_g(x) + u_q t_g(x))^(e_g)`` at the half-circle points for every (row, u-node).

    Returns the (Σ nq, L/2 + 1) products (rows sorted by their number of factors, nodes weighted by
    the Gauss-Legendre weights) and the row order used."""
    n_used = used.sum(axis=1)
    ro = np.argsort(-n_used, kind="stable")
    used, e, pi, x, nq, n_used = used[ro], e[ro], pi[ro], x[ro], nq[ro], n_used[ro]
    gidx = np.argsort(~used, axis=1, kind="stable")           # each row's factors first
    ecomp = np.take_along_axis(e, gidx, axis=1)
    rq = np.repeat(np.arange(len(x)), nq)                     # (row, node) pairs, rows contiguous
    first = np.cumsum(nq) - nq
    qpos = np.arange(len(rq)) - first[rq]
    uu = np.empty(len(rq))
    ww = np.empty(len(rq))
    for q in np.unique(nq):
        uq, wq = _gauss01(int(q))
        sel = nq[rq] == q
        uu[sel], ww[sel] = uq[qpos[sel]], wq[qpos[sel]]
    prod = np.empty((len(rq), a_tab.shape[1]), dtype=complex)
    prod[:] = ww[:, None]
    buf = np.empty_like(prod)
    buf2 = np.empty_like(prod)
    nodes_of = np.searchsorted(rq, np.arange(len(x) + 1))              # first (row, node) of each row
    for gi in range(int(n_used.max(initial=0))):
        nr = int(np.count_nonzero(n_used > gi))               # rows with more than gi factors (a prefix)
        nrq = int(nodes_of[nr])
        seg = seg_id[pi[:nr], gidx[:nr, gi]]
        dd = x[:nr] - y_lo[seg]
        # the factor A(x) + u t(x); a window starting above x means P(Y_g <= x) <= e^-43.7: factor 0
        idx = (off[np.clip(dd, 0, wmax - 1)] + seg)[rq[:nrq]]
        f = np.take(t_tab, idx, axis=0, out=buf[:nrq])
        f *= uu[:nrq, None]
        f += np.take(a_tab, idx, axis=0, out=buf2[:nrq])
        if (dd < 0).any():
            f[(dd < 0)[rq[:nrq]]] = 0.0
        prod[:nrq] *= f
        ex = ecomp[:nr, gi]
        for t in range(2, int(ex.max()) + 1):              # equal-size classes: the factor again
            sel = np.flatnonzero((ex >= t)[rq[:nrq]])
            prod[sel] *= f[sel]
    return prod, ro


__all__ = ["log_comb", "log_comb_parts", "grid_round", "majority_counts", "size_groups", "n_points", "LOG_TINY", "LOG_LOW_CUT", "CHUNK"]

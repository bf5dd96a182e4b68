"""Best-of-n beyond the cached solutions: per-answer-class reward locations and one pooled residual shape
whose upper tail is a generalised Pareto, against the success-rate model's p per problem."""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from ..matrix import class_mass


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
    Parts: :func:`_noise_model`, :func:`_wrong_atoms`, :func:`_right_locations`, :func:`_binned_wrong`,
    :func:`_best_of_k_on_grid`.
    """
    z = _logit_rewards(a["reward"])
    ok = a["valid"] & np.isfinite(z)
    codes = np.where(ok, a["codes"], -2)
    codes = np.where(codes == -1, a["class_value"].shape[1], codes)   # null answers: one extra class
    C = a["class_value"].shape[1] + 1
    cls = {"ok": ok, "codes": codes, "z": z, "cnt": class_mass(codes, None, C),
           "is_right": np.concatenate([a["class_value"], np.zeros((z.shape[0], 1))], axis=1) > 0.5}
    s1 = class_mass(codes, np.where(ok, z, 0.0), C)
    cls["s1"] = s1
    cls["mean"] = np.divide(s1, cls["cnt"], out=np.zeros_like(s1), where=cls["cnt"] > 0)
    noise = _noise_model(cls, rng)
    wrong = _wrong_atoms(cls, noise["s_w"])
    loc_r, pv_r = _right_locations(wrong, noise["s_w"], noise["s_r"])
    # per-draw tail index and scales
    xis = np.clip(noise["xi_m"] + np.sqrt(noise["xi_v"]) * rng.standard_normal(m), 0.0, 0.6)
    rs = noise["r_m"] + np.sqrt(noise["r_v"]) * rng.standard_normal(m)
    sws = noise["s_mid"] * np.exp(-rs / 2)
    srs = noise["s_mid"] * np.exp(rs / 2)
    shape = noise["shape"]
    grid, W = _binned_wrong(wrong, loc_r, pv_r, shape, xis, sws, srs, grid_size)
    p = mix.draw_posterior(a["c"], a["n"], m, rng)  # (P, m)
    mu_r = loc_r[:, None] + np.sqrt(pv_r)[:, None] * rng.standard_normal((len(loc_r), m))
    out = np.empty((len(loc_r), m, len(ks_all)))
    for d in range(m):
        out[:, d, :] = _best_of_k_on_grid(grid, W, shape.with_xi(xis[d]), sws[d], srs[d], mu_r[:, d:d + 1],
                                          p[:, d:d + 1], ks_all)
    return out


def _noise_model(cls: dict, rng: np.random.Generator) -> dict:
    """The pooled reward noise of :func:`_best_of_n`: scales of wrong and right classes (``s_w``, ``s_r``
    and their geometric mean ``s_mid``), the shared standardised residual ``shape`` (:class:`_Shape`), and
    normal posteriors of its tail index (``xi_m``, ``xi_v``) and of the log ratio of the right to the
    wrong scale (``r_m``, ``r_v``)."""
    ok, codes, z, cnt, is_right = cls["ok"], cls["codes"], cls["z"], cls["cnt"], cls["is_right"]
    dev = np.where(ok & (codes >= 0), z - np.take_along_axis(cls["mean"], np.maximum(codes, 0), axis=1), np.nan)
    ss = class_mass(codes, np.nan_to_num(dev) ** 2, cnt.shape[1])

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
    r_hat = np.log(s_r / s_w)
    r_se2 = (kurt - 1.0) / 4.0 * (1.0 / max(dof_r, 1.0) + 1.0 / max(dof_w, 1.0)) if dof_r > 0 else 1e6
    r_v = 1.0 / (1.0 / _LOG_SCALE_PRIOR_SD ** 2 + 1.0 / r_se2)
    return {"s_w": s_w, "s_r": s_r, "s_mid": np.sqrt(s_r * s_w) if dof_r > 0 else s_w, "shape": shape,
            "xi_m": xi_v * shape.xi / shape.xi_se ** 2, "xi_v": xi_v, "r_m": r_v * r_hat / r_se2, "r_v": r_v}


def _wrong_atoms(cls: dict, s_w: float) -> dict:
    """The wrong answers of :func:`_best_of_n` as a mixture of atoms per problem: ``at_loc`` and ``at_w``
    (P, A), each seen wrong class at Gauss-Hermite nodes of its shrunk location's posterior and the
    unseen classes at nodes of N(m_w, tau_w^2), with Dirichlet plus Good-Turing weights; ``m_w`` (P,) the
    problem's wrong mean (from a regression on the right mean where no wrong solution was seen)."""
    cnt, s1, mean, is_right = cls["cnt"], cls["s1"], cls["mean"], cls["is_right"]
    P = cnt.shape[0]
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
    return {"at_loc": at_loc, "at_w": at_w, "m_w": m_w, "has_w": has_w, "n_r": n_r, "mean_r": mean_r}


def _right_locations(wrong: dict, s_w: float, s_r: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance (P,) of each problem's right-class location: shrunk toward a weighted
    regression on the wrong mean (empirical Bayes, so unsolved problems borrow from solved ones)."""
    m_w, n_r, mean_r = wrong["m_w"], wrong["n_r"], wrong["mean_r"]
    has = n_r > 0
    reg = has & wrong["has_w"]  # problems where both means are observed
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
    return np.where(has, pv_r * (prior_r / tau_r2 + np.nan_to_num(mean_r) / v_r), prior_r), pv_r


def _binned_wrong(wrong: dict, loc_r, pv_r, shape: _Shape, xis, sws, srs, grid_size: int):
    """One uniform reward grid for every problem and draw (wide enough for the widest tail drawn) and the
    wrong mixture's atoms binned linearly onto it, (P, grid_size) rows summing to 1."""
    at_loc, at_w = wrong["at_loc"], wrong["at_w"]
    P = at_loc.shape[0]
    live = at_w > 1e-9
    reach = min(max(shape.with_xi(x).upper(1e-8) for x in xis), 60.0)
    top = max(float(np.max(np.where(live, at_loc, -np.inf))) + sws.max() * reach,
              float(np.max(loc_r + 4 * np.sqrt(pv_r))) + srs.max() * reach)
    floor = shape.lower(1e-4)
    bot = min(float(np.min(np.where(live, at_loc, np.inf))) + sws.max() * floor,
              float(np.min(loc_r - 4 * np.sqrt(pv_r))) + srs.max() * floor)
    grid = np.linspace(bot, top, grid_size)
    h = grid[1] - grid[0]
    pos = np.clip((at_loc - bot) / h, 0, grid_size - 1.000001)
    i0 = np.floor(pos).astype(int)
    fr = pos - i0
    W = np.zeros((P, grid_size))
    rows = np.repeat(np.arange(P), at_loc.shape[1])
    np.add.at(W, (rows, i0.ravel()), (at_w * (1 - fr)).ravel())
    np.add.at(W, (rows, np.minimum(i0 + 1, grid_size - 1).ravel()), (at_w * fr).ravel())
    W /= np.maximum(W.sum(axis=1, keepdims=True), 1e-300)
    return grid, W


def _best_of_k_on_grid(grid, W, sh: _Shape, s_w: float, s_r: float, mu_r, p, ks_all) -> np.ndarray:
    """(P, K) P(best of k is right) for one posterior draw: the wrong CDF F_W as the binned atoms ``W``
    convolved with the shape at scale ``s_w``, the right CDF F_R at ``mu_r`` (P, 1) and scale ``s_r``,
    H = p F_R + (1 - p) F_W, and ``sum_cells (H(t+1)^k - H(t)^k) * p dF_R / dH``."""
    from scipy.signal import fftconvolve

    G = len(grid)
    h = grid[1] - grid[0]
    offsets = np.arange(-(G - 1), G) * h
    F_w = fftconvolve(W, sh.cdf(offsets / s_w)[None, :], axes=1)[:, G - 1:2 * G - 1]
    F_w = np.maximum.accumulate(np.clip(F_w, 0.0, 1.0), axis=1)
    F_r = sh.cdf((grid[None, :] - mu_r) / s_r)
    for F in (F_w, F_r):
        F[:, 0] = 0.0
        F[:, -1] = 1.0
    H = p * F_r + (1 - p) * F_w
    dH = np.diff(H, axis=1)
    share = np.clip(np.divide(p * np.diff(F_r, axis=1), dH, out=np.zeros_like(dH), where=dH > 1e-300), 0, 1)
    logH = np.log(np.clip(H, 1e-300, 1.0))
    return np.stack([(np.diff(np.exp(k * logH), axis=1) * share).sum(axis=1) for k in ks_all], axis=1)



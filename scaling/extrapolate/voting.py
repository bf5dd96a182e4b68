"""Majority and weighted majority voting beyond the cached solutions: Dirichlet draws of each problem's
answer shares (an unseen-answer bucket and null answers never win), multinomial vote counts at k."""

from __future__ import annotations

import numpy as np

from ..estimators import vote
from ..matrix import class_mass


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



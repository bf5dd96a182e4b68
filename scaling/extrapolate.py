"""Per-problem models that predict a strategy's accuracy at many more samples than were cached.

A curve fitted to accuracy-versus-k knows only its own shape.  The cached solutions know more: how
often each problem is solved, how the votes split between answers, how the rewards of right and wrong
solutions are distributed.  These models use that to predict accuracy at ``k`` beyond the ``n`` cached
solutions per problem (say, 1024 from 64).

Every prediction is *anchored*: for problem i with n_i cached solutions,

    pred_i(k) = exact_i(n_i) + model_i(k) - model_i(n_i),

where ``exact_i(n_i)`` is the strategy's value on all n_i cached solutions (an unbiased estimate of the
population value at n_i) and the model supplies only the increment.  The mean over problems is the
prediction; its standard error comes from the spread over problems.

Coverage (pass@k)
    Success counts c_i ~ Binomial(n_i, p_i) with p_i from a prior fitted by maximum marginal likelihood:
    candidates are mixtures of one or two Beta distributions (beta-binomial; the Beta density near 0 is
    the power law p^(a-1) behind the exponentiated power law of Large Language Monkeys) and logit-normal
    / logit-t_3 priors (the item-response view, logit p = ability - difficulty), each with and without a
    point mass at p = 0 (never-solved problems); they are averaged with BIC weights, because what lies
    below 1/n is barely identified by n samples.  Then ``E[pass@k | c_i] = E[1 - (1 - p)^k | c_i]``
    under each problem's posterior (closed form for Beta: ``1 - B(a + c, b + n - c + k) / B(a + c, b + n - c)``).
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
    Decided by the upper tails of the reward distributions of right and wrong solutions.  Rewards (on the
    logit scale when they lie in [0, 1]) follow a location-scale model per problem and correctness,
    ``z = m_ig + s_ig * e`` with the *shape* of ``e`` the pooled empirical distribution of standardised
    residuals across all problems (thousands of residuals, so the tail quantiles that matter at k = 1024
    are observed, not assumed).  Right-solution means are shrunk toward a regression on the problem's
    wrong-solution mean (empirical Bayes), so a problem with one right solution, or none, borrows from the
    others; p_i is drawn from its Beta-mixture posterior.  Then, with H = p F_R + (1 - p) F_W,
    ``P(best of k is right) = sum_cells (H(r_t+1)^k - H(r_t)^k) * p dF_R / dH`` on a fine grid of r.

>>> from scaling.synthetic import make_world, sample_table
>>> from scaling.matrix import to_matrices
>>> m = to_matrices(sample_table(make_world(200, seed=3), 64))[0]
>>> out = extrapolate(m, "pass_at_k", ks=[64, 1024])
>>> list(out.columns)
['strategy', 'k', 'flops', 'accuracy', 'se', 'plug_in', 'n_problems', 'model']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from .estimators import vote
from .matrix import class_mass

__all__ = ["BetaMixture", "MixtureAverage", "fit_beta_mixture", "extrapolate", "per_problem", "extrapolated_table", "STRATEGIES"]

STRATEGIES = ("pass_at_k", "majority", "weighted_majority", "best_of_n")


# --------------------------------------------------------------------------------------------------
# Beta mixture for per-problem success rates
# --------------------------------------------------------------------------------------------------

@dataclass
class BetaMixture:
    """Mixture of Beta(a_j, b_j) with weights w_j for per-problem success rates, plus optionally a point
    mass ``zero`` at p = 0 (problems the model never solves)."""

    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray
    loglik: float
    zero: float = 0.0

    def _post_weights(self, c: np.ndarray, n: np.ndarray) -> np.ndarray:
        """(P, K + 1) posterior weights of the Beta components and (last column) the zero mass."""
        c = np.asarray(c, float)[:, None]
        n = np.asarray(n, float)[:, None]
        lw = (np.log(np.maximum(self.weights, 1e-300))[None, :] + special.betaln(self.a + c, self.b + n - c)
              - special.betaln(self.a, self.b))
        lz = np.where(c[:, 0] == 0, np.log(self.zero) if self.zero > 0 else -np.inf, -np.inf)[:, None]
        lw = np.concatenate([lw, lz], axis=1)
        lw -= lw.max(axis=1, keepdims=True)
        w = np.exp(lw)
        return w / w.sum(axis=1, keepdims=True)

    def pass_at(self, c: np.ndarray, n: np.ndarray, k: float | np.ndarray) -> np.ndarray:
        """Posterior expectation of 1 - (1 - p)^k per problem given c successes in n."""
        w = self._post_weights(c, n)
        k = np.asarray(k, float)
        k = k[:, None] if k.ndim == 1 else k
        c2 = np.asarray(c, float)[:, None]
        n2 = np.asarray(n, float)[:, None]
        a, b = self.a + c2, self.b + n2 - c2
        miss = np.exp(special.betaln(a, b + k) - special.betaln(a, b))
        return 1.0 - (w[:, :-1] * miss).sum(axis=1) - w[:, -1]

    def draw_posterior(self, c: np.ndarray, n: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
        """(P, m) stratified draws of p_i from its posterior."""
        w = self._post_weights(c, n)
        P = len(w)
        c2 = np.asarray(c, float)[:, None]
        n2 = np.asarray(n, float)[:, None]
        u = (np.arange(m) + rng.random((P, m))) / m  # stratified uniforms
        cw = np.cumsum(w, axis=1)
        comp = (rng.random((P, m))[:, :, None] > cw[:, None, :]).sum(axis=2)
        comp = np.minimum(comp, w.shape[1] - 1)
        is_zero = comp == len(self.a)
        comp = np.minimum(comp, len(self.a) - 1)
        a = (self.a[None, :] + c2)[np.arange(P)[:, None], comp]
        b = (self.b[None, :] + n2 - c2)[np.arange(P)[:, None], comp]
        return np.where(is_zero, 0.0, special.betaincinv(a, b, u))


def _betaln(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return special.gammaln(x) + special.gammaln(y) - special.gammaln(x + y)


def _bb_loglik(theta: np.ndarray, c: np.ndarray, n: np.ndarray, mult: np.ndarray, n_comp: int,
               zero: bool, grad: bool = False):
    """Beta-binomial mixture log-likelihood (and its gradient in theta = log a, log b, logits)."""
    a = np.exp(theta[:n_comp])
    b = np.exp(theta[n_comp:2 * n_comp])
    logits = np.concatenate([[0.0], theta[2 * n_comp:]])
    lw = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    ac, bc = a + c[:, None], b + (n - c)[:, None]
    comp = lw[None, :n_comp] + _betaln(ac, bc) - _betaln(a, b)[None, :]
    if zero:
        comp = np.concatenate([comp, np.where(c == 0, lw[-1], -np.inf)[:, None]], axis=1)
    top = comp.max(axis=1)
    e = np.exp(comp - top[:, None])
    tot = e.sum(axis=1)
    ll = float(((top + np.log(tot)) * mult).sum())
    if not grad:
        return ll
    r = e / tot[:, None] * mult[:, None]  # weighted responsibilities
    psi_ab = special.digamma(a + b)
    psi_abn = special.digamma(ac + bc)
    ga = (r[:, :n_comp] * (special.digamma(ac) - psi_abn - special.digamma(a) + psi_ab)).sum(axis=0) * a
    gb = (r[:, :n_comp] * (special.digamma(bc) - psi_abn - special.digamma(b) + psi_ab)).sum(axis=0) * b
    w = np.exp(lw)
    gl = r.sum(axis=0)[1:] - mult.sum() * w[1:]
    return ll, np.concatenate([ga, gb, gl])


@dataclass
class MixtureAverage:
    """Bayesian model average of candidate :class:`BetaMixture` priors, weighted by exp(-BIC/2).

    Whether a never-solved problem is impossible or merely very hard is barely identified by n
    samples; averaging the candidates hedges between them instead of betting on one."""

    models: list
    weights: np.ndarray

    @property
    def zero(self) -> float:
        return float(sum(w * m.zero for m, w in zip(self.models, self.weights, strict=True)))

    def pass_at(self, c, n, k):
        return sum(w * m.pass_at(c, n, k) for m, w in zip(self.models, self.weights, strict=True))

    def draw_posterior(self, c, n, m: int, rng: np.random.Generator) -> np.ndarray:
        draws = np.stack([mod.draw_posterior(c, n, m, rng) for mod in self.models])  # (M, P, m)
        pick = rng.choice(len(self.models), size=draws.shape[1:], p=self.weights)
        return np.take_along_axis(draws, pick[None], axis=0)[0]


_ZGRID = np.linspace(-30.0, 15.0, 361)  # logit-scale grid for the logit-normal / logit-t priors


@dataclass
class LogitPrior:
    """Success rate p = sigmoid(z) with z ~ Normal(mu, sigma) or Student-t_3(mu, sigma) (the item-response
    view: logit p = ability - difficulty), plus optionally a point mass ``zero`` at p = 0; integrated on
    a fixed logit grid."""

    kind: str
    mu: float
    sigma: float
    zero: float
    loglik: float

    def _prior(self) -> np.ndarray:
        return _logit_density((_ZGRID - self.mu) / self.sigma, self.kind)

    def _post(self, c, n) -> tuple[np.ndarray, np.ndarray]:
        """(P, G) posterior weights on the grid and (P,) posterior weight of the zero mass."""
        c = np.asarray(c, float)[:, None]
        n = np.asarray(n, float)[:, None]
        p = special.expit(_ZGRID)[None, :]
        ll = c * np.log(p) + (n - c) * np.log1p(-p)
        lw = ll + np.log(np.maximum(self._prior(), 1e-300))[None, :] + np.log1p(-self.zero)
        lz = np.where(c[:, 0] == 0, np.log(self.zero) if self.zero > 0 else -np.inf, -np.inf)
        top = np.maximum(lw.max(axis=1), lz)
        w = np.exp(lw - top[:, None])
        wz = np.exp(lz - top)
        tot = w.sum(axis=1) + wz
        return w / tot[:, None], wz / tot

    def pass_at(self, c, n, k):
        w, _ = self._post(c, n)
        k = np.asarray(k, float)
        k = k[:, None] if k.ndim == 1 else k
        miss = np.exp(k * np.log1p(-special.expit(_ZGRID))[None, :])
        return (w * (1.0 - miss)).sum(axis=1)

    def draw_posterior(self, c, n, m: int, rng: np.random.Generator) -> np.ndarray:
        w, wz = self._post(c, n)
        cw = np.cumsum(np.concatenate([w, wz[:, None]], axis=1), axis=1)
        u = (np.arange(m)[None, :] + rng.random((len(w), m))) / m
        idx = np.minimum((u[:, :, None] > cw[:, None, :]).sum(axis=2), len(_ZGRID))
        step = _ZGRID[1] - _ZGRID[0]
        z = _ZGRID[np.minimum(idx, len(_ZGRID) - 1)] + (rng.random(idx.shape) - 0.5) * step
        return np.where(idx == len(_ZGRID), 0.0, special.expit(z))


def _logit_density(x: np.ndarray, kind: str) -> np.ndarray:
    """Normalised weights on the grid: normal exp(-x^2/2) or Student-t_3 (1 + x^2/3)^-2."""
    d = np.exp(-0.5 * x * x) if kind == "normal" else (1.0 + x * x / 3.0) ** -2
    return d / max(d.sum(), 1e-300)


def _fit_logit_prior(cu, nu, mult, kind: str, zero: bool) -> LogitPrior:
    p = special.expit(_ZGRID)[None, :]
    L = np.exp(cu[:, None] * np.log(p) + (nu - cu)[:, None] * np.log1p(-p)
               + (special.gammaln(nu + 1) - special.gammaln(cu + 1) - special.gammaln(nu - cu + 1))[:, None])

    def nll(t):
        mu, ls = t[0], t[1]
        d = _logit_density((_ZGRID - mu) / np.exp(ls), kind)
        z = special.expit(t[2]) if zero else 0.0
        lik = (1 - z) * (L @ d) + z * (cu == 0)
        return -float((np.log(np.maximum(lik, 1e-300)) * mult).sum())

    best = None
    for mu0, ls0 in ((-2.0, 1.0), (1.0, 0.5), (0.0, 1.5)):
        if True:
            t0 = [mu0, ls0] + ([-2.0] if zero else [])
            r = optimize.minimize(nll, t0, method="Nelder-Mead",
                                  options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
            if best is None or r.fun < best.fun:
                best = r
    t = best.x
    return LogitPrior(kind, float(t[0]), float(np.exp(t[1])), float(special.expit(t[2])) if zero else 0.0,
                      -float(best.fun))


def fit_beta_mixture(c: np.ndarray, n: np.ndarray, max_components: int = 2) -> MixtureAverage:
    """Fit per-problem success rates p_i ~ w_0 [p = 0] + sum_j w_j Beta(a_j, b_j) to counts c_i of n_i by
    marginal likelihood (beta-binomial; the binomial coefficient is constant and dropped).  Candidates:
    1..``max_components`` Beta components, each with and without the point mass at 0; chosen by BIC.
    Multi-start from a small grid; problems with equal (c, n) are pooled so the cost does not grow with P.
    Returns the BIC-weighted average of the candidates (:class:`MixtureAverage`)."""
    c = np.asarray(c, float)
    n = np.asarray(n, float)
    if len(c) == 0:
        raise ValueError("fit_beta_mixture: no problems")
    pairs, mult = np.unique(np.stack([c, n], axis=1), axis=0, return_counts=True)
    cu, nu = pairs[:, 0], pairs[:, 1]
    mult = mult.astype(float)
    cands: list[BetaMixture] = []
    bics: list[float] = []
    any_zero = bool((cu == 0).any())
    for k in range(1, max_components + 1):
        for zero in ((False, True) if any_zero else (False,)):
            if k == 1:
                ab = [((0.2,), (2.0,)), ((1.0,), (1.0,)), ((0.5,), (0.1,))]
            elif k == 2:
                ab = [((0.2, 1.0), (5.0, 0.3)), ((0.5, 2.0), (30.0, 1.0)), ((0.05, 0.7), (1.0, 0.7))]
            else:
                ab = [(tuple(np.geomspace(0.1, 2.0, k)), tuple(np.geomspace(20.0, 0.3, k))),
                      (tuple(np.geomspace(0.05, 3.0, k)), tuple(np.geomspace(3.0, 0.5, k)))]
            starts = [np.concatenate([np.log(a0), np.log(b0), np.zeros(k - 1 + zero) - 0.5 * zero])
                      for a0, b0 in ab]
            fits = []
            for s in starts:
                lim = np.array([7.0] * (2 * k) + [10.0] * (k - 1 + zero))

                def neg(t, k=k, z=zero, lim=lim):
                    ll, g = _bb_loglik(np.clip(t, -lim, lim), cu, nu, mult, k, z, grad=True)
                    return -ll, -g * (np.abs(t) < lim)

                res = optimize.minimize(neg, s, jac=True, method="BFGS", options={"gtol": 1e-3, "maxiter": 300})
                res.x = np.clip(res.x, -lim, lim)
                fits.append(res)
            res = min(fits, key=lambda r: r.fun)
            ll = -float(res.fun)
            bic = -2 * ll + (3 * k - 1 + zero) * np.log(len(c))
            t = res.x
            logits = np.concatenate([[0.0], t[2 * k:]])
            w = np.exp(logits - special.logsumexp(logits))
            cands.append(BetaMixture(weights=w[:k], a=np.exp(t[:k]), b=np.exp(t[k:2 * k]), loglik=ll,
                                     zero=float(w[k]) if zero else 0.0))
            bics.append(bic)
    # logit-normal and logit-t priors (item-response shapes), with and without the zero mass.  Their
    # likelihood keeps the binomial coefficient; add it to the beta-binomial ones to compare.
    const = float(((special.gammaln(nu + 1) - special.gammaln(cu + 1) - special.gammaln(nu - cu + 1)) * mult).sum())
    bics = [b_ - 2 * const for b_ in bics]
    for kind in ("normal", "t3"):
        for zero in ((False, True) if any_zero else (False,)):
            lp = _fit_logit_prior(cu, nu, mult, kind, zero)
            cands.append(lp)
            bics.append(-2 * lp.loglik + (2 + zero) * np.log(len(c)))
    b = np.asarray(bics)
    wts = np.exp(-(b - b.min()) / 2)
    keep = wts > 1e-3 * wts.max()
    wts = wts[keep] / wts[keep].sum()
    return MixtureAverage([m for m, k_ in zip(cands, keep, strict=True) if k_], wts)


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
        if strategy == "majority":
            mass = class_mass(codes, None, n_cls)
        else:
            mass = class_mass(codes, a["reward"], n_cls)
            mass[class_mass(codes, None, n_cls) == 0] = 0.0
        present = class_mass(codes, None, n_cls) > 0
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
    out = np.empty((P, len(ks_all)))
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
            out[sl, j] = vote(mass, can_win[sl][:, None, :], val[sl][:, None, :]).mean(axis=1)
    return out


def _logit_rewards(r: np.ndarray) -> np.ndarray:
    fin = np.isfinite(r)
    if fin.any() and r[fin].min() >= 0.0 and r[fin].max() <= 1.0:
        return special.logit(np.clip(r, 1e-6, 1 - 1e-6))
    return r


def _best_of_n(a: dict, ks_all: np.ndarray, mix, m: int, rng: np.random.Generator,
               grid_size: int = 600) -> np.ndarray:
    """Best-of-k per problem from a per-answer-class reward model (see the module docstring).

    Wrong solutions: a mixture over wrong answer classes (null answers are one more class), class j with
    probability q_ij (posterior mean of Dirichlet(counts + 1/2), plus a Good-Turing bucket of unseen
    classes) and reward location l_ij (class mean shrunk toward the problem's wrong mean; unseen classes
    spread over the fitted between-class spread).  Right solutions: one location per problem, shrunk
    toward a regression on the wrong mean.  Every class shares one within-class residual shape (pooled
    empirical distribution), with separate scales for right and wrong classes.
    """
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
    # within-class scales (pooled over problems) and the shared residual shape
    ss = class_mass(codes, np.nan_to_num(dev) ** 2, C)

    def pooled(mask):
        dof = ((cnt - 1).clip(0) * mask).sum()
        return float(np.sqrt((ss * mask).sum() / dof)) if dof > 0 else np.nan

    s_w = pooled(~is_right)
    s_r = pooled(is_right)
    if not np.isfinite(s_w) or s_w <= 0:
        s_w = float(np.nanstd(z[ok])) or 1.0
    if not np.isfinite(s_r) or s_r <= 0:
        s_r = s_w
    cls_of = np.take_along_axis(cnt, np.maximum(codes, 0), axis=1)
    right_sol = np.take_along_axis(is_right, np.maximum(codes, 0), axis=1)
    use = ok & (codes >= 0) & (cls_of >= 3)
    scale_sol = np.where(right_sol, s_r, s_w) / np.sqrt(np.maximum(cls_of - 1, 1) / np.maximum(cls_of, 1))
    e = (dev / scale_sol)[use]
    e = np.sort((e - e.mean()) / e.std()) if e.size >= 30 else np.sort(rng.standard_normal(4000))

    # wrong classes: problem wrong mean, between-class spread tau_w, shrunk class locations
    wr = (~is_right) & (cnt > 0)
    n_wrong = (cnt * wr).sum(axis=1)
    glob_w = float((s1 * wr).sum() / max(n_wrong.sum(), 1))
    m_w = np.where(n_wrong > 0, (s1 * wr).sum(axis=1) / np.maximum(n_wrong, 1), glob_w)
    d2 = (mean - m_w[:, None]) ** 2 - s_w ** 2 / np.maximum(cnt, 1)
    tau_w2 = max(float((d2 * cnt * wr).sum() / max((cnt * wr).sum(), 1)), 1e-4)
    v_obs = s_w ** 2 / np.maximum(cnt, 1)
    post_v = 1.0 / (1.0 / tau_w2 + 1.0 / v_obs)
    loc_w = post_v * (m_w[:, None] / tau_w2 + mean / v_obs)
    sc_w = np.sqrt(s_w ** 2 + post_v)
    # class probabilities within the wrong mass: Dirichlet posterior means + unseen bucket
    singles = ((cnt == 1) & wr).sum(axis=1)
    unseen = np.maximum(singles, 0.5)
    alpha = np.where(wr, cnt + 0.5, 0.0)
    tot = alpha.sum(axis=1) + unseen
    q = alpha / tot[:, None]
    q_unseen = unseen / tot
    # unseen wrong classes: locations at quantiles of N(m_w, tau_w2)
    qn = special.ndtri((np.arange(5) + 0.5) / 5)
    loc_u = m_w[:, None] + np.sqrt(tau_w2) * qn[None, :]

    # right class: location per problem by empirical Bayes on the wrong mean
    rt = is_right & (cnt > 0)
    n_r = (cnt * rt).sum(axis=1)
    mean_r = np.divide((s1 * rt).sum(axis=1), n_r, out=np.full(P, np.nan), where=n_r > 0)
    has = n_r > 0
    if has.sum() >= 5:
        wts = n_r[has] / (1.0 + n_r[has])
        X = np.stack([np.ones(has.sum()), m_w[has]], axis=1)
        coef = np.linalg.lstsq(X * np.sqrt(wts)[:, None], mean_r[has] * np.sqrt(wts), rcond=None)[0]
        resid = mean_r[has] - X @ coef
        tau_r2 = max(float(np.average(resid ** 2 - s_r ** 2 / n_r[has], weights=wts)), 1e-3)
    elif has.any():
        coef = np.array([float(np.mean(mean_r[has] - m_w[has])), 1.0])
        tau_r2 = 1.0
    else:
        coef = np.array([s_w, 1.0])
        tau_r2 = 1.0
    prior_r = coef[0] + coef[1] * m_w
    v_r = s_r ** 2 / np.maximum(n_r, 1)
    pv_r = np.where(has, 1.0 / (1.0 / tau_r2 + 1.0 / v_r), tau_r2)
    loc_r = np.where(has, pv_r * (prior_r / tau_r2 + np.nan_to_num(mean_r) / v_r), prior_r)
    sc_r = np.sqrt(s_r ** 2 + pv_r)

    lo = min(float(np.min(np.where(wr, loc_w - 1.5 * sc_w * abs(e[0]), np.inf))),
             float(np.min(loc_r - 1.5 * sc_r * abs(e[0]))), float(np.min(loc_u)) - 1.5 * s_w * abs(e[0]))
    hi = max(float(np.max(np.where(wr, loc_w + 1.5 * sc_w * e[-1], -np.inf))),
             float(np.max(loc_r + 1.5 * sc_r * e[-1])), float(np.max(loc_u)) + 1.5 * s_w * e[-1])
    grid = np.linspace(lo, hi, grid_size)
    ecdf_y = (np.arange(1, len(e) + 1) - 0.5) / len(e)

    def G(x):
        return np.interp(x, e, ecdf_y, left=0.0, right=1.0)

    F_r = G((grid[None, :] - loc_r[:, None]) / sc_r[:, None])                       # (P, T)
    F_w = np.zeros((P, grid_size))
    for j in range(C):  # loop over class slots, vectorised over problems
        qj = q[:, j]
        if not (qj > 0).any():
            continue
        F_w += qj[:, None] * G((grid[None, :] - loc_w[:, j:j + 1]) / sc_w[:, j:j + 1])
    for j in range(len(qn)):
        F_w += (q_unseen / len(qn))[:, None] * G((grid[None, :] - loc_u[:, j:j + 1]) / s_w)
    F_r[:, 0] = F_w[:, 0] = 0.0
    F_r[:, -1] = F_w[:, -1] = 1.0
    p = mix.draw_posterior(a["c"], a["n"], m, rng)  # (P, m)
    out = np.empty((P, len(ks_all)))
    step = max(1, 2_000_000 // (m * grid_size))  # problems per block: bounded memory for any P
    for lo_i in range(0, P, step):
        sl = slice(lo_i, min(P, lo_i + step))
        pp = p[sl][:, :, None]
        dFr = np.diff(F_r[sl], axis=1)[:, None, :]
        H = pp * F_r[sl][:, None, :] + (1 - pp) * F_w[sl][:, None, :]
        dH = np.diff(H, axis=2)
        share = np.divide(pp * dFr, dH, out=np.zeros_like(dH), where=dH > 1e-300)
        logH = np.log(np.clip(H, 1e-300, 1.0))
        for j, k in enumerate(ks_all):
            out[sl, j] = (np.diff(np.exp(k * logH), axis=2) * share).sum(axis=2).mean(axis=1)
    return out


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


def per_problem(m, strategy: str, ks, *, n_draws: int = 16, seed: int = 0, anchor: float = 0.5,
                mixture: BetaMixture | MixtureAverage | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Anchored per-problem predictions (P, K) at ``ks`` and the exact values at the anchor.

    ``m`` is a :class:`scaling.matrix.SampleMatrix` (or anything with ``codes``, ``correct``,
    ``reward``, ``flops``, ``class_value``) of one i.i.d. sampling group.  The anchor is
    ``k_a = max(1, floor(anchor * min_i n_i))``: the exact subset estimate at k_a (an average over many
    subsets, so less noisy than the single subset at k = n) plus the model's increment from k_a to k.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    a = _arrays(m)
    if strategy in ("weighted_majority", "best_of_n") and a["reward"] is None:
        raise ValueError(f"strategy {strategy!r} needs rewards, but the group {getattr(m, 'key', '')} has none")
    if not 0 < anchor <= 1:
        raise ValueError(f"anchor must be in (0, 1], got {anchor}")
    ks = np.asarray(ks, float)
    rng = np.random.default_rng(seed)
    k_a = max(1, int(np.floor(anchor * a["n"].min())))
    exact = _exact_at(a, strategy, k_a, seed)
    mix = mixture
    if mix is None and strategy in ("pass_at_k", "best_of_n"):
        mix = fit_beta_mixture(a["c"], a["n"])
    ks_all = np.concatenate([ks, [float(k_a)]])
    if strategy == "pass_at_k":
        vals = np.stack([mix.pass_at(a["c"], a["n"], float(k)) for k in ks_all], axis=1)
    elif strategy == "best_of_n":
        vals = _best_of_n(a, ks_all, mix, n_draws, rng)
    else:
        vals = _voting(a, ks_all, strategy == "weighted_majority", n_draws, rng)
    pred = exact[:, None] + vals[:, :-1] - vals[:, -1:]
    return pred, exact


def extrapolate(m, strategy: str, ks=(128, 256, 512, 1024), *, n_draws: int = 16, seed: int = 0,
                anchor: float = 0.5) -> pd.DataFrame:
    """Predicted accuracy of ``strategy`` at each k in ``ks`` for one sampling group.

    Returns a DataFrame: strategy, k, flops (k times the mean cost of one solution plus the prompt
    once per problem, averaged over problems), accuracy, se (over problems), plug_in (the exact value at the
    anchor k), n_problems, model (the group's key as a string).
    """
    pred, exact = per_problem(m, strategy, ks, n_draws=n_draws, seed=seed, anchor=anchor)
    a = _arrays(m)
    P = pred.shape[0]
    acc = np.clip(pred.mean(axis=0), 0.0, 1.0)
    se = pred.std(axis=0, ddof=1) / np.sqrt(P) if P > 1 else np.full(len(acc), np.nan)
    flops = np.asarray(ks, float) * a["per_sample_flops"].mean() + a["prompt_flops"].mean()
    key = getattr(m, "key", {})
    return pd.DataFrame({"strategy": strategy, "k": np.asarray(ks, int), "flops": flops, "accuracy": acc,
                         "se": se, "plug_in": float(exact.mean()), "n_problems": P,
                         "model": str(key.get("model", ""))})


def extrapolated_table(samples: pd.DataFrame, strategies=None, multiples=(2, 4, 8, 16), *, compute=None,
                       reward_agg: str | None = None, by=None, n_draws: int = 16, seed: int = 0,
                       progress: bool = False) -> pd.DataFrame:
    """Per-problem predictions beyond the cached solutions for every i.i.d. sampling group.

    For a group whose problems hold at least n solutions each, predicts k = n * m for m in
    ``multiples``.  Returns a long table: task, model, params, method, strategy, reward_agg (+ by),
    k, problem_id, accuracy, flops, source='extrapolated' -- the shape of
    ``scaling.evaluate(..., per_problem=True)``, ready for ``scaling.fit(..., extrapolated=...)``.
    """
    from .matrix import to_matrices

    mats = [m for m in to_matrices(samples, compute=compute, reward_agg=reward_agg, by=by)
            if m.key["method"] == "sample"]
    frames = []
    jobs = []
    for m in mats:
        strats = list(strategies or STRATEGIES)
        if not m.has_rewards:  # as scaling.evaluate: reward strategies need a reward on every row
            strats = [s for s in strats if s not in ("weighted_majority", "best_of_n")]
        strats = [s for s in strats if s in STRATEGIES]
        for s in strats:
            jobs.append((m, s))
    it = jobs
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(jobs, desc="extrapolating per problem", unit="curve")
    mixtures: dict[int, MixtureAverage] = {}
    for m, s in it:
        a = _arrays(m)
        n0 = int(a["n"].min())
        if n0 < 4:
            continue
        ks = [n0 * mult for mult in multiples]
        if s in ("pass_at_k", "best_of_n") and id(m) not in mixtures:
            mixtures[id(m)] = fit_beta_mixture(a["c"], a["n"])
        pred, _ = per_problem(m, s, ks, n_draws=n_draws, seed=seed, mixture=mixtures.get(id(m)))
        flops = np.asarray(ks, float)[None, :] * a["per_sample_flops"][:, None] + a["prompt_flops"][:, None]
        P = len(a["n"])
        key = {c: v for c, v in m.key.items()}
        frames.append(pd.DataFrame({**{c: [v] * (P * len(ks)) for c, v in key.items()},
                                    "reward_agg": reward_agg, "strategy": s, "k": np.tile(ks, P),
                                    "problem_id": np.repeat(m.problem_ids, len(ks)),
                                    "accuracy": np.clip(pred, 0.0, 1.0).ravel(), "flops": flops.ravel(),
                                    "source": "extrapolated"}))
    if not frames:
        return pd.DataFrame(columns=["task", "model", "params", "method", "strategy", "k", "problem_id",
                                     "accuracy", "flops", "source"])
    return pd.concat(frames, ignore_index=True)

"""Which success-rate prior: candidates weighed by an out-of-sample check inside the data, bootstrapped.

:func:`fit_success_model` fits every candidate prior (:mod:`scaling.extrapolate.priors`), refits each on
n/frac of every problem's solutions to check how well it extrapolates to n, weighs them, and repeats the
whole procedure on problems resampled with replacement; a :class:`SuccessModel`
(:mod:`scaling.extrapolate.priors`) averages over the lot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .priors import FAMILIES, SuccessModel, SuccessPrior, _grid, _lbinom, _log_p, _Pairs


def _thinned(c: np.ndarray, n: np.ndarray, frac: int):
    """Success counts in a random n/frac of each problem's solutions, averaged over every such subset.

    Returns pooled pairs (j, n1, weight) of the expected histogram, (P, n1 + 1) per-problem
    hypergeometric probabilities of j (columns beyond a problem's own n1 are 0) and the pooled pair
    each (problem, j) falls in."""
    n1 = n // frac
    J = int(n1.max()) + 1
    j = np.arange(J)[None, :]
    cc, nn, mm = c[:, None].astype(float), n[:, None].astype(float), n1[:, None].astype(float)
    ok = (j <= cc) & (mm - j <= nn - cc) & (j <= mm)
    lh = (_lbinom(cc, j) + _lbinom(nn - cc, mm - j) - _lbinom(nn, mm))
    H = np.where(ok, np.exp(np.where(ok, lh, 0.0)), 0.0)
    keys = np.stack([np.broadcast_to(j, H.shape).ravel(), np.broadcast_to(mm, H.shape).ravel()], axis=1)
    keep = H.ravel() > 1e-12
    uk, inv = np.unique(keys[keep], axis=0, return_inverse=True)
    wts = np.bincount(inv.ravel(), weights=H.ravel()[keep], minlength=len(uk))
    pidx = np.zeros(H.size, dtype=np.int64)
    pidx[keep] = inv.ravel()
    return uk[:, 0], uk[:, 1], wts, np.where(keep.reshape(H.shape), H, 0.0), pidx.reshape(H.shape)


def _check_data(c: np.ndarray, n: np.ndarray, H: np.ndarray, frac: int) -> dict:
    """What the out-of-sample check needs from the data, per problem (see :func:`_check_scores`):
    P(no success in a random n1-subset) ``p0`` and, given that, the distribution ``Q`` (P, m_max) of the
    position among the remaining m = n - n1 solutions of the first success (all c successes lie there)."""
    n1 = n // frac
    m = n - n1
    s = np.arange(1, int(m.max()) + 1)[None, :]
    ci = c.astype(float)[:, None]
    mm = m[:, None].astype(float)
    ok = (ci >= 1) & (mm - s >= ci - 1)
    top, bot = np.where(ok, mm - s, 1.0), np.where(ok, ci - 1, 0.0)
    Q = np.where(ok, np.exp(_lbinom(top, bot) - _lbinom(mm, np.minimum(ci, mm))), 0.0)
    return {"p0": H[:, 0], "Q": Q, "n1": n1, "m": m, "solved": c > 0}


def _check_scores(prior: SuccessPrior, d: dict, rows: np.ndarray | None = None) -> tuple[float, float]:
    """Out-of-sample check of a prior fitted on n1 = n/frac of each problem's solutions.

    For a problem not yet solved in its first n1 solutions the prior predicts when it is first solved
    among the remaining m = n - n1 (or not by n).  Scored, averaged over every choice of the n1
    solutions: the log predictive probability of that time (``time``) and the predicted minus observed
    pass@n of the whole set.  ``rows`` selects (resampled) problems."""
    if rows is not None:
        d = {k: v[rows] for k, v in d.items()}
    lq = _log_p(prior.z)[1]
    lp = _log_p(prior.z)[0]
    M = d["Q"].shape[1]
    s = np.arange(1, M + 1)
    logpt = np.zeros((len(d["p0"]), M))
    p_cens = np.zeros(len(d["p0"]))
    for n1, m in {(int(a), int(b)) for a, b in zip(d["n1"], d["m"], strict=True)}:
        sel = (d["n1"] == n1) & (d["m"] == m)
        w, w0 = prior.posterior(np.array([0.0]), np.array([float(n1)]))
        pt = (w[0][None, :] * np.exp((s[:m, None] - 1) * lq[None, :] + lp[None, :])).sum(axis=1)
        logpt[np.ix_(sel, np.arange(m))] = np.log(np.maximum(pt, 1e-300))[None, :]
        p_cens[sel] = float((w[0] * np.exp(m * lq)).sum() + w0[0])
    p0 = d["p0"]
    score = float((p0 * ((d["Q"] * logpt).sum(axis=1) + (~d["solved"]) * np.log(np.maximum(p_cens, 1e-300)))).sum())
    pred_n = 1.0 - p0 * p_cens
    return score, float(pred_n.mean() - d["solved"].mean())


def fit_success_model(c, n, *, families=FAMILIES, zero_atoms=(False, True), frac: int = 4, n_boot: int = 30,
                      seed: int = 0) -> SuccessModel:
    """Fit the distribution of per-problem success rates from success counts ``c`` of ``n`` samples.

    Model: c_i ~ Binomial(n_i, p_i), p_i i.i.d. from a prior with a point mass ``zero`` at p = 0
    (problems never solved) and otherwise one of ``families`` on the logit scale (Beta, the power-law
    left tail p^(a-1) that Schaeffer et al. (2025) show produces the power law of Brown et al. (2024);
    a two-Beta mixture; a logit-t).  Each candidate is fitted by marginal likelihood (beta-binomial,
    integrated on a fine logit grid); problems with equal (c, n) are pooled, so the cost does not grow
    with the number of problems.

    What lies below p = 1/n is barely identified by n samples, so candidates are weighed by how well
    they extrapolate *inside the data*: each is refitted on n/``frac`` of every problem's solutions
    (averaged over every choice of those solutions, of which the first n/frac is one, so the check does
    not depend on the order of the samples) and scored by the log predictive probability of when each
    still-unsolved problem is first solved among the rest.  Weights: ``exp(S_m - BIC_m / 2)`` with S_m
    that out-of-sample log score, i.e. the in-sample evidence times the extrapolation check.  The table
    ``check`` reports, per candidate, the log-likelihood, BIC, the check's score and its predicted minus
    observed pass@n, and the weight.

    ``n_boot`` bootstrap replicates repeat the whole procedure (every candidate not ruled out by the
    full data, warm-started, its check and the weights) on problems resampled with replacement.  The
    model's predictions average over the replicates (bagging) and :meth:`SuccessModel.interval` mixes
    them, so the interval carries the uncertainty of which candidate fits, not only of its parameters.

    Assumptions: problems independent, samples i.i.d. within a problem (so counts are sufficient); the
    tail below 1/n continues as the weighted candidates extrapolate it, which the in-data check tests
    one factor of ``frac`` at a time.

    >>> rng = np.random.default_rng(0)
    >>> p = rng.beta(0.4, 2.0, 300); c = rng.binomial(64, p)
    >>> model = fit_success_model(c, np.full(300, 64), n_boot=0)
    >>> bool(abs(model.pass_at(c, np.full(300, 64), 1024).mean() - np.mean(1 - (1 - p) ** 1024)) < 0.05)
    True
    """
    c = np.asarray(c, int)
    n = np.asarray(n, int)
    if len(c) == 0:
        raise ValueError("fit_success_model: no problems")
    P = len(c)
    data = _Pairs(c, n, None, _grid(n.max()))
    any_zero = bool((c == 0).any())
    specs = [(f, za) for f in families for za in zero_atoms if not (za and not any_zero)]
    thin = None
    if frac > 1 and (n // frac).min() >= 2 and (c > 0).any():
        jj, nn1, wts, H, pidx = _thinned(c, n, frac)
        thin = _Pairs(jj, nn1, wts, _grid(nn1.max()))
        chk = _check_data(c, n, H, frac)
    full = _select(data, thin, specs, len(c), chk if thin else None)
    cands, w, bic, score, err, thin_fits, keep = full
    check = pd.DataFrame({"prior": [m.label for m in cands], "loglik": [m.loglik for m in cands], "bic": bic,
                          "check_score": score if thin else np.nan, "check_error": err, "weight": w,
                          "zero": [m.zero for m in cands]})
    model = SuccessModel(cands, w, check)
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        # the whole procedure again on problems resampled with replacement: refits (warm-started) of
        # every candidate and of its check, and the weights they earn
        idx = rng.integers(0, P, P)
        mult = np.bincount(data.inverse[idx], minlength=len(data.mult)).astype(float)
        tmult = None
        if thin is not None:
            tmult = np.bincount(pidx[idx].ravel(), weights=H[idx].ravel(), minlength=len(thin.mult))
        b = _select(data, thin, specs, P, chk if thin else None, rows=idx, mult=mult, tmult=tmult,
                    starts=cands, tstarts=thin_fits, starts_w=keep)
        model.boot.append((b[0], b[1]))
    return model


def _select(data: _Pairs, thin: _Pairs | None, specs, P: int, chk: dict | None, rows=None, mult=None, tmult=None,
            starts=None, tstarts=None, starts_w=None):
    """Fit every candidate, check it out of sample, weigh it: exp(check score - BIC / 2).  With ``starts``
    (a bootstrap replicate) candidates whose ``starts`` weight is 0 are not refitted and keep weight 0."""
    live = [True] * len(specs) if starts is None else [w > 0 for w in starts_w]
    fits = [data.fit(f, za, mult=mult, starts=None if starts is None else [starts[i].theta]) if live[i] else starts[i]
            for i, (f, za) in enumerate(specs)]
    bic = np.array([-2 * m.loglik + m.n_params * np.log(P) for m in fits])
    score = np.zeros(len(fits))
    err = np.full(len(fits), np.nan)
    tfits = []
    if thin is not None:
        for i, (f, za) in enumerate(specs):
            if not live[i]:
                tfits.append(tstarts[i])
                continue
            tfits.append(thin.fit(f, za, mult=tmult, starts=None if tstarts is None else [tstarts[i].theta]))
            score[i], err[i] = _check_scores(tfits[-1], chk, rows)
    logw = np.where(live, score - bic / 2, -np.inf)
    w = np.exp(logw - logw.max())
    keep = logw > logw.max() - 10.0  # candidates a bootstrap replicate refits
    w = np.where(w > 1e-3, w, 0.0)
    return fits, w / w.sum(), bic, score, err, tfits, keep


def long_range_frac(n_min: int, min_head: int = 8) -> int | None:
    """The thinning factor of the long-range check: the largest of 16, 8, 4 that leaves at least
    ``min_head`` solutions per problem (4 with at least 2 when none does; None below 8 solutions)."""
    for f in (16, 8, 4):
        if n_min // f >= min_head:
            return f
    return 4 if n_min // 4 >= 2 else None


def model_check(model: SuccessModel, c, n, frac: int) -> tuple[float, float]:
    """Long-range in-data check of a fitted success model: its candidates of positive weight refitted on
    n/``frac`` of each problem's solutions (averaged over every such subset) predict coverage at n.
    Returns (predicted minus observed coverage at n, weighted by the model's candidate weights, and the
    check's noise: the standard deviation of the observed coverage at n given the head, at least one
    problem's share 1/P, which a check cannot resolve)."""
    c, n = np.asarray(c, int), np.asarray(n, int)
    jj, nn1, wts, H, _ = _thinned(c, n, frac)
    noise = max(float(np.sqrt((H[:, 0] * (1 - H[:, 0])).sum()) / len(c)), 1.0 / len(c))
    if frac == 4 and model.check.check_error.notna().all():
        return float((model.check.check_error * model.weights).sum()), noise
    thin = _Pairs(jj, nn1, wts, _grid(nn1.max()))
    chk = _check_data(c, n, H, frac)
    err = 0.0
    for cand, w in zip(model.candidates, model.weights, strict=True):
        if w > 0:
            fit = thin.fit(cand.family, cand.zero_atom, starts=[cand.theta])
            err += w * _check_scores(fit, chk)[1]
    return float(err), noise

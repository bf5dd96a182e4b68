"""Predictions of one sampling group at k beyond its cached solutions, with intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from .. import estimators as est
from .. import registry
from ..matrix import SampleMatrix
from ..schema import SAMPLING_METHODS
from .bracket import BracketFit, bracket_check, coverage_bracket
from .exact import _exact_at
from .groups import STRATEGIES, _arrays, _head
from .power_law import fit_power_law, power_law_coverage
from .reward_tail import _best_of_n
from .selection import SuccessModel, fit_success_model, long_range_frac, model_check
from .voting import _voting

#: Standard deviations of the check's noise by which the per-problem model must beat the bracket, and by
#: which the power law must read low inside the data, for the model to replace the bracket.
MARGIN = 3.0


@dataclass
class AnchorChoice:
    """Coverage beyond the cached solutions from the per-problem success model or from the bracket
    (:mod:`scaling.extrapolate.bracket`: the midpoint of Brown et al.'s power law and the beta-binomial
    over the never-solvable share), as the in-data check chose (:func:`choose`).

    ``choice``: ``"model"`` or ``"bracket"``; ``est``, ``lo``, ``hi``: (K,) the estimate and its
    interval; ``anchor``: (K,) the power law's values, for comparison; ``bracket``: the bracket's fit;
    ``check``: the check's thinning factor ``frac``, each candidate's predicted minus measured value at
    n from the head of the data (``model``, ``bracket``, and ``power_law`` alone) and the check's
    ``noise`` (a standard deviation)."""

    choice: str
    est: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    anchor: np.ndarray
    check: dict
    bracket: BracketFit | None = None


def choose(ks, n0: int, model: tuple, alternative: tuple, check: dict, *,
           level: float = 0.95) -> tuple[str, tuple]:
    """The per-problem ``model`` or the bracket ``alternative`` (each: estimate, low, high at ``ks``), by
    the in-data ``check`` (frac f, the model's, the bracket's and the power law's errors, noise); returns
    the choice and its (estimate, low, high).

    The bracket is the default: its readings lie on either side of the long range that a check over
    n/f -> n cannot see.  Its premise is that the power law reads high.  The model replaces it where
    the check shows that premise broken -- the power law under-predicts coverage at n by more than
    ``MARGIN`` (3) noise standard deviations, so both readings sit low -- and the model extrapolating
    better than the bracket by more than ``MARGIN`` noise.  (On CodeContests, 128 -> 10,000 samples, the
    check alone picked the model where it was right over n/16 -> n and under-predicted at 10,000 by up
    to 0.195, while the power law there read high; on the shipped family, 16 -> 256 samples, the power
    law read low by 5-7 noise and the model was the better.)  Without a check (too few
    solutions, nothing solved, nothing unsolved) the model is kept.  The chosen interval is widened by
    what its check error shows beyond twice its noise, growing with ``log(k / n) / log f`` (an error
    measured over a factor f, expected to grow with the log of the range)."""
    ks = np.asarray(ks, float)
    f, em, eb, ep = (check.get(k, np.nan) for k in ("frac", "model", "bracket", "power_law"))
    noise = float(np.nan_to_num(check.get("noise", np.nan)))
    checked = f is not None and np.isfinite(em) and np.isfinite(eb)
    use_model = not checked or (ep < -MARGIN * noise and abs(em) + MARGIN * noise < abs(eb))
    e, lo, hi = (np.asarray(x, float) for x in (model if use_model else alternative))
    if checked:
        zq = special.ndtri((1 + level) / 2)
        extra = max(0.0, abs(em if use_model else eb) - 2.0 * noise) * np.maximum(np.log(ks / n0) / np.log(f),
                                                                                   0.0) / zq
        lo = e - np.sqrt((e - lo) ** 2 + extra ** 2)
        hi = e + np.sqrt((hi - e) ** 2 + extra ** 2)
    return ("model" if use_model else "bracket"), (e, np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0))


def choose_coverage(model: SuccessModel, c, n, ks, *, level: float = 0.95, n_boot: int = 200,
                    seed: int = 0) -> AnchorChoice:
    """Coverage at ``ks`` from the success ``model`` or the bracket (:func:`choose`), checked over
    the longest range the data allow (:func:`long_range_frac`: the first n/f of each problem's solutions,
    f = 16 where that leaves 8): the model's candidates refitted on n/f (:func:`model_check`), the
    bracket's two readings on the same head (:func:`bracket_check`), each predicting coverage at n, which
    the data measure.  The power law alone is reported beside them (``anchor``)."""
    c, n = np.asarray(c, int), np.asarray(n, int)
    n0 = int(n.min())
    ks = np.asarray(ks, float)
    pl = power_law_coverage(c, n, n_boot=n_boot, seed=seed)
    f = long_range_frac(n0)
    check = {"frac": f, "model": np.nan, "bracket": np.nan, "power_law": np.nan, "noise": np.nan}
    bracketed = (c > 0).any() and (c == 0).any()   # else nothing solved, or nothing left to bracket
    if f is not None and (c > 0).any():
        check["model"], check["noise"] = model_check(model, c, n, f)
        upper = float(power_law_coverage(c, n, n0 // f)(n0))
        check["power_law"] = upper - float(est.pass_at_k(n, c, n0).mean())
        if bracketed:
            check["bracket"] = bracket_check(c, n, f, upper)
    br = coverage_bracket(c, n, ks, pl, level=level) if bracketed else None
    alt = (br.est, br.lo, br.hi) if br is not None else (np.full(len(ks), np.nan),) * 3
    choice, (e, lo, hi) = choose(ks, n0, model.interval(c, n, ks, level), alt, check, level=level)
    return AnchorChoice(choice, e, lo, hi, pl(ks), dict(check), br)


def _in_data_check(a: dict, strategy: str, n_draws: int, seed: int, frac: int = 4) -> dict | None:
    """Out-of-sample check of a voting or best-of-n model inside the data: the model fitted on the first
    n/``frac`` solutions of every problem predicts the strategy at k = n, and so does the power law
    fitted to the strategy's exact curve up to n/``frac`` (strategies that read rewards); the target is the exact value on all n, whose
    own spread over problems is ``noise`` (a variance).  Returns target, model, power_law, noise, or
    None where n is too small or unequal."""
    n = a["n"]
    n0 = int(n.min())
    n1 = n0 // frac
    if n1 < 4 or (n != n0).any():
        return None
    b = _head(a, n1)
    P = len(n)
    k_a = max(1, n1 // 2)
    rng = np.random.default_rng(seed + 7)
    ks2 = np.array([float(n0), float(k_a)])
    if strategy == "best_of_n":
        draws = _best_of_n(b, ks2, fit_success_model(b["c"], b["n"], seed=seed, n_boot=0), n_draws, rng)
    else:
        draws = _voting(b, ks2, strategy == "weighted_majority", n_draws, rng)
    inc = draws.mean(axis=1)
    model = float(_exact_at(b, strategy, k_a, seed).mean() + (inc[:, 0] - inc[:, 1]).mean())
    target = float(_exact_at(a, strategy, n0, seed).mean())
    u = np.clip(_exact_at(a, strategy, max(1, n0 // 2), seed), 0.0, 1.0)
    switch = registry.strategy(strategy).needs_rewards   # see _power_law_if_checked
    pl = float(fit_power_law(a, strategy, k_max=n1, seed=seed)(n0)) if switch else np.nan
    return {"target": target, "model": model, "power_law": pl, "noise": float((u * (1 - u)).sum() / P ** 2)}


@dataclass
class _Prediction:
    pred: np.ndarray        # (P, K) per-problem point predictions
    exact: np.ndarray       # (P,) exact value at the anchor
    var: np.ndarray         # (P, K) per-problem predictive variance of the truth
    est: np.ndarray         # (K,) mean over problems
    lo: np.ndarray          # (K,) interval
    hi: np.ndarray
    extrapolated: np.ndarray  # (K,) bool: k beyond the cached solutions of some problem
    prior: str = ""
    check_error: float = np.nan
    anchor: np.ndarray | None = None     # (K,) the power law at ks (coverage only)
    anchor_check_error: float = np.nan   # its long-range in-data check error (coverage only)


def _move_mean(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-problem predictions (P, K) moved so that each column's mean is ``target``: up in proportion
    to each problem's room ``1 - pred``, down in proportion to ``pred`` (so they stay in [0, 1])."""
    gap = np.asarray(target, float) - pred.mean(axis=0)
    room = np.where(gap[None, :] >= 0, 1.0 - pred, pred)
    tot = room.mean(axis=0)
    return np.clip(pred + room * np.divide(gap, tot, out=np.zeros_like(gap), where=tot > 0)[None, :], 0.0, 1.0)


def predict(m, strategy: str, ks, *, n_draws: int = 16, seed: int = 0, anchor: float = 0.5, level: float = 0.95,
            success: SuccessModel | None = None, check: bool = True) -> _Prediction:
    """Everything :func:`extrapolate` knows about one sampling group at ``ks``: per-problem predictions
    ``pred`` (P, K), the exact values at the anchor, the mean over problems ``est`` with its ``level``
    interval ``lo``/``hi``, which k are ``extrapolated``, the chosen ``prior`` and the in-data
    ``check_error`` (see :func:`extrapolate` for the model and :func:`per_problem` for the anchor)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    a = _arrays(m)
    if registry.strategy(strategy).needs_rewards and a["reward"] is None:
        raise ValueError(f"strategy {strategy!r} needs rewards, but the group {getattr(m, 'key', '')} has none")
    if not 0 < anchor <= 1:
        raise ValueError(f"anchor must be in (0, 1], got {anchor}")
    ks = np.asarray(ks, float)
    n = a["n"]
    k_a = max(1, int(np.floor(anchor * n.min())))
    exact = _exact_at(a, strategy, k_a, seed)
    mod = success
    if mod is None and strategy in ("pass_at_k", "best_of_n"):
        mod = fit_success_model(a["c"], n, seed=seed)
    extrap = ks > n.min()
    info = {}
    if mod is not None:
        info = {"prior": mod.label, "check_error": float((mod.check.check_error * mod.weights).sum())}
    if strategy == "pass_at_k":
        return _predict_coverage(a, mod, ks, exact, extrap, info, level, seed)
    return _predict_draws(a, strategy, mod, ks, k_a, exact, extrap, info, n_draws, level, seed, check)


def _predict_coverage(a: dict, mod: SuccessModel, ks, exact, extrap, info: dict, level: float,
                      seed: int) -> _Prediction:
    """pass@k: each problem's posterior mean beyond its cached solutions (exact within them), and the mean
    over problems from the model or the bracket (:func:`choose_coverage`)."""
    n = a["n"]
    P = len(n)
    pred = np.empty((P, len(ks)))
    var = np.zeros((P, len(ks)))
    for j, k in enumerate(ks):
        mu, v = mod.moments(a["c"], n, float(k))
        seen = k <= n
        pred[:, j] = np.where(seen, est.pass_at_k(n, a["c"], int(min(k, n.max()))) if seen.any() else 0.0, mu)
        var[:, j] = np.where(seen, 0.0, v)
    ch = choose_coverage(mod, a["c"], n, ks, level=level, seed=seed)
    # where every problem has k cached solutions the value is measured: the exact estimate, with the
    # interval for the population value moved to it; elsewhere the problems' predictions are moved to
    # the chosen estimate (the bracket knows only the mean)
    meas = (ks[None, :] <= n[:, None]).all(axis=0)
    shift = np.where(meas, pred.mean(axis=0) - ch.est, 0.0)
    pred = np.where(meas[None, :], pred, _move_mean(pred, ch.est))
    info.update(prior="bracket" if ch.choice == "bracket" else mod.label, check_error=ch.check[ch.choice],
                anchor=ch.anchor, anchor_check_error=ch.check["power_law"])
    return _Prediction(pred, exact, var, ch.est + shift, np.clip(ch.lo + shift, 0, 1), np.clip(ch.hi + shift, 0, 1),
                       extrap, **info)


def _predict_draws(a: dict, strategy: str, mod, ks, k_a: int, exact, extrap, info: dict, n_draws: int,
                   level: float, seed: int, check: bool) -> _Prediction:
    """Voting and best-of-n: the exact value at the anchor k_a plus the model's increment from k_a to k,
    averaged over posterior draws; the interval from the draws, replaced by the power law's where the
    in-data check says so (:func:`_power_law_if_checked`)."""
    n = a["n"]
    P = len(n)
    ks_all = np.concatenate([ks, [float(k_a)]])
    rng = np.random.default_rng(seed)
    if strategy == "best_of_n":
        draws = _best_of_n(a, ks_all, mod, n_draws, rng)
    else:
        draws = _voting(a, ks_all, strategy == "weighted_majority", n_draws, rng)
    vals = draws.mean(axis=1)
    pred = exact[:, None] + vals[:, :-1] - vals[:, -1:]
    for j, k in enumerate(ks):  # measured where every problem has k cached solutions
        if k <= n.min():
            pred[:, j] = exact if int(k) == k_a else _exact_at(a, strategy, int(k), seed)
    var = draws[:, :, :-1].var(axis=1, ddof=1) if n_draws > 1 else np.zeros_like(pred)
    est_ = np.clip(pred.mean(axis=0), 0.0, 1.0)
    if strategy == "best_of_n" and n_draws > 2:
        # draws share the reward tail and scales across problems: the spread of the mean over problems
        # from draw to draw is the predictive spread (a t quantile for the few draws)
        sd = draws[:, :, :-1].mean(axis=0).std(axis=0, ddof=1)
        zq = stats.t.ppf((1 + level) / 2, n_draws - 1)
    else:  # independent draws per problem
        sd = np.sqrt(var.sum(axis=0)) / P
        zq = special.ndtri((1 + level) / 2)
    chk = _in_data_check(a, strategy, n_draws, seed) if check else None
    if chk is not None:
        pred, est_, sd = _power_law_if_checked(a, strategy, chk, ks, pred, est_, sd, zq, level, seed, info)
    return _Prediction(pred, exact, var, est_, np.clip(est_ - zq * sd, 0, 1), np.clip(est_ + zq * sd, 0, 1),
                       extrap, **info)


def _power_law_if_checked(a: dict, strategy: str, chk: dict, ks, pred, est_, sd, zq: float, level: float,
                          seed: int, info: dict):
    """The in-data check (n/4 -> n) is one measured extrapolation error of the model, and of the power law
    fitted to the strategy's curve up to n/4.  The power law replaces the model beyond n only where the
    check shows the model off by MARGIN noise and the power law closer by MARGIN noise (it tends to 1
    while voting and best-of-n saturate below, which a check over a factor 4 cannot see).  What the
    chosen check error shows beyond twice its noise widens the interval, growing with log k over the
    check's log 4.  Returns (pred, est, sd) and records the choice in ``info``.

    Only strategies that read rewards (weighted majority, best-of-n) may switch: their reward models can
    be wrong where the vote model cannot, and majority's Dirichlet vote shares converge to its exact limit.
    Measured on the shipped family (16 -> 256 solutions, 5 draws, mean / worst |error|): with the switch,
    best-of-n 0.029 / 0.093 (0.075 / 0.399 without) and weighted majority 0.011 / 0.056 (0.046 / 0.179);
    majority 0.035 / 0.094 with it, 0.029 / 0.067 without -- its n/4 head of 4 solutions misjudges the
    vote model, not the power law."""
    n0 = int(a["n"].min())
    noise = max(float(np.sqrt(chk["noise"])), 1.0 / len(a["n"]))
    em, ep = chk["model"] - chk["target"], chk["power_law"] - chk["target"]
    info["check_error"] = em
    if np.isfinite(ep) and abs(em) > MARGIN * noise and abs(ep) + MARGIN * noise < abs(em):
        beyond = ks > n0
        pl = fit_power_law(a, strategy, n_boot=200, seed=seed)
        est_ = np.where(beyond, pl(ks), est_)
        pred = np.where(beyond[None, :], _move_mean(np.clip(pred, 0.0, 1.0), est_), pred)
        lo, hi = pl.interval(ks, level)
        sd = np.where(beyond, (hi - lo) / (2 * zq), sd)
        info.update(prior="power_law", check_error=ep)
    excess = max(0.0, abs(info["check_error"]) - 2.0 * noise)
    grow = np.maximum(np.log(ks / n0) / np.log(4.0), 0.0)
    return pred, est_, np.sqrt(sd ** 2 + (excess * grow / zq) ** 2)


def per_problem(m, strategy: str, ks, *, n_draws: int = 16, seed: int = 0, anchor: float = 0.5,
                mixture: SuccessModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem predictions (P, K) at ``ks`` and the exact values at the anchor.

    ``m`` is a :class:`scaling.matrix.SampleMatrix` (or anything with ``codes``, ``correct``,
    ``reward``, ``flops``, ``class_value``) of one i.i.d. sampling group.  Voting and best-of-n are
    anchored at ``k_a = max(1, floor(anchor * min_i n_i))``: the exact subset estimate at k_a (an
    average over many subsets, so less noisy than the single subset at k = n) plus the model's
    increment from k_a to k.  pass@k is the posterior mean of ``1 - (1 - p_i)^k`` where k exceeds the
    problem's cached solutions and the exact estimate where it does not.  ``mixture``: a fitted
    :class:`SuccessModel` to reuse (pass@k, best-of-n).
    """
    r = predict(m, strategy, ks, n_draws=n_draws, seed=seed, anchor=anchor, success=mixture, check=False)
    return r.pred, r.exact


def extrapolate(m, strategy: str, ks=(128, 256, 512, 1024), *, n_draws: int = 16, seed: int = 0,
                anchor: float = 0.5, level: float = 0.95, success: SuccessModel | None = None,
                check: bool = True) -> pd.DataFrame:
    """Predicted accuracy of ``strategy`` at each k in ``ks`` for one sampling group, with an interval.

    ``m`` is a :class:`scaling.matrix.SampleMatrix` of i.i.d. samples.  ``success``: a fitted
    :func:`fit_success_model` to share between pass@k and best-of-n (fitted here otherwise).
    ``check``: run the in-data check of voting and best-of-n (fit on n/4, predict at n), which widens
    their interval by the error it measures beyond its own noise.

    Returns a DataFrame: strategy, k, flops (k times the mean cost of one solution plus the prompt
    once per problem, averaged over problems), accuracy, ci_low, ci_high (the ``level`` interval of the
    mean over these problems' true accuracy), se (half its width over the normal quantile),
    extrapolated (k beyond some problem's cached solutions; otherwise the value is the exact estimate),
    plug_in (the exact value at the anchor k), n_problems, model (the group's key as a string), prior
    (pass@k: the success-rate prior of largest weight where the per-problem model is used,
    ``bracket`` where the bracket is, see :func:`scaling.extrapolate.predict.choose`; best-of-n: the
    success-rate prior; weighted majority and best-of-n: ``power_law`` where the power law replaced the
    model, see :func:`_power_law_if_checked`), check_error (the in-data check's predicted
    minus observed value at n from the head of the solutions: coverage from n/f for pass@k, see
    :func:`scaling.extrapolate.predict.choose_coverage`; the strategy itself from n/4 for voting and
    best-of-n), anchor and anchor_check_error (pass@k: the power law at k and its check error; NaN
    otherwise).
    """
    r = predict(m, strategy, ks, n_draws=n_draws, seed=seed, anchor=anchor, level=level, success=success,
                 check=check)
    a = _arrays(m)
    zq = special.ndtri((1 + level) / 2)
    flops = np.asarray(ks, float) * a["per_sample_flops"].mean() + a["prompt_flops"].mean()
    key = getattr(m, "key", {})
    return pd.DataFrame({"strategy": strategy, "k": np.asarray(ks, int), "flops": flops, "accuracy": r.est,
                         "ci_low": r.lo, "ci_high": r.hi, "se": (r.hi - r.lo) / (2 * zq),
                         "extrapolated": r.extrapolated, "plug_in": float(r.exact.mean()),
                         "n_problems": len(r.exact), "model": str(key.get("model", "")), "prior": r.prior,
                         "check_error": r.check_error, "anchor": np.nan if r.anchor is None else r.anchor,
                         "anchor_check_error": r.anchor_check_error})


def extrapolation_ks(n0: int, multiples: Sequence[int], horizon: int | None = None) -> list[int]:
    """The k a group with ``n0`` cached solutions per problem is extrapolated at: n0 times each multiple,
    and with a ``horizon`` K also n0·2, n0·4, ... below K and K itself (ks above n0 only).

    >>> extrapolation_ks(128, (2, 4), horizon=1000)
    [256, 512, 1000]
    """
    ks = {n0 * int(mult) for mult in multiples}
    if horizon is not None and horizon > n0:
        ks |= {n0 * 2 ** j for j in range(1, 64) if n0 * 2 ** j < horizon} | {int(horizon)}
    return sorted(k for k in ks if k > n0)


def extrapolated_frame(m: SampleMatrix, strategies: Sequence[str], multiples: Sequence[int], by: list[str],
                       reward_agg: str | None, seed: int, n_draws: int = 16, level: float = 0.95,
                       n_boot: int = 30, check: bool = True, horizon: int | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | None:
    """Predictions at k = n * multiple (and up to a ``horizon``, :func:`extrapolation_ks`; n: the group's
    smallest solution count, at least 4) from
    :func:`scaling.extrapolate.predict`: per problem (cost k times the problem's mean cost of one solution
    plus its prompt once) and as a mean over problems with its ``level`` interval, the success-rate prior
    chosen by the in-data check and that check's error.  One success-rate model per group (``n_boot``
    bootstrap refits) serves pass@k and best-of-n; ``check=False`` skips the in-data checks of voting and
    best-of-n, which only widen their intervals.  Returns (per-problem frame, interval frame, the success
    model's candidate table or None), or None when nothing is extrapolated.  For coverage the interval
    frame also holds Brown et al.'s power law (``anchor``) and its in-data check error, for comparison;
    ``prior`` is ``bracket`` where the bracket was used (:func:`scaling.extrapolate.predict.choose_coverage`)
    and, for voting and best-of-n, ``power_law`` where the power law replaced the model.
    """
    n0 = int(m.n.min())
    strategies = [s for s in strategies if s in STRATEGIES]
    ks = extrapolation_ks(n0, multiples, horizon)
    if m.key["method"] not in SAMPLING_METHODS or n0 < 4 or not ks or not strategies:
        return None
    success = None
    if {"pass_at_k", "best_of_n"} & set(strategies):
        success = fit_success_model(m.correct.sum(axis=1), m.n, seed=seed, n_boot=n_boot)
    cost = np.asarray(ks, float)[None, :] * (m.unit_flops / m.n)[:, None] + m.prompt_flops[:, None]
    P = len(m.n)
    key = m.config_key(by, reward_agg)
    frames, rows = [], []
    for s in strategies:
        r = predict(m, s, ks, n_draws=n_draws, seed=seed, level=level, success=success, check=check)
        frames.append(pd.DataFrame({**key, "strategy": s, "k": np.tile(ks, P),
                                    "problem_id": np.repeat(m.problem_ids, len(ks)),
                                    "accuracy": np.clip(r.pred, 0.0, 1.0).ravel(), "flops": cost.ravel()}))
        rows.append(pd.DataFrame({**key, "strategy": s, "k": ks, "flops": cost.mean(axis=0), "accuracy": r.est,
                                  "ci_low": r.lo, "ci_high": r.hi, "extrapolated": r.extrapolated,
                                  "n_problems": P, "prior": r.prior, "check_error": r.check_error,
                                  "anchor": np.nan if r.anchor is None else r.anchor,
                                  "anchor_check_error": r.anchor_check_error}))
    checks = None if success is None else success.check.assign(**key)
    return pd.concat(frames, ignore_index=True), pd.concat(rows, ignore_index=True), checks

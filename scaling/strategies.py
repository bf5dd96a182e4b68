"""Accuracy of every strategy at every k, with compute and uncertainty; the plug-in voting limits.

>>> import scaling
>>> samples = scaling.read_samples("data/samples")                           # doctest: +SKIP
>>> curves = scaling.evaluate(samples, strategies=["majority", "pass_at_k"])  # doctest: +SKIP
>>> curves.query("strategy == 'majority'")[["model", "k", "flops", "accuracy"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from . import estimators as est
from .flops import Compute
from .matrix import SampleMatrix, class_mass, to_matrices
from .schema import GREEDY_METHODS, SAMPLING_METHODS, TREE_METHODS, SchemaError

STRATEGIES = ("greedy", "majority", "weighted_majority", "best_of_n", "pass_at_k")
REWARD_STRATEGIES = ("weighted_majority", "best_of_n")
CURVE_COLUMNS = ["task", "model", "params", "method", "strategy", "k", "flops", "accuracy", "ci_low",
                 "ci_high", "mc_se", "n_problems", "n_capped", "reward_agg"]


def default_ks(n: np.ndarray) -> list[int]:
    """Powers of two up to the smallest unit's solution count, plus that count itself."""
    n_min = int(np.min(n))
    ks = [2 ** i for i in range(0, 64) if 2 ** i <= n_min]
    if n_min not in ks:
        ks.append(n_min)
    return ks


def _check_rewards(m: SampleMatrix, strategy: str) -> None:
    missing = not m.has_rewards
    if missing:
        what = "no row has" if m.reward is None else f"{m.meta['reward_rows_missing']} row(s) lack"
        raise SchemaError(f"strategy {strategy!r} needs rewards, but {what} a 'reward' (or 'step_rewards') "
                          f"in task {m.key['task']!r}, model {m.key['model']!r}, method {m.key['method']!r}; "
                          "score the samples first (python -m collect score) or choose other strategies")


def _strategies_for(m: SampleMatrix, strategies: Sequence[str] | None) -> list[str]:
    method = m.key["method"]
    if method in GREEDY_METHODS:
        return ["greedy"] if strategies is None or "greedy" in strategies else []
    has_reward = m.has_rewards
    if strategies is None:
        chosen = ["majority", "pass_at_k"] + (list(REWARD_STRATEGIES) if has_reward else [])
        if m.reward is not None and not has_reward:
            warnings.warn(f"task {m.key['task']!r}, model {m.key['model']!r}, method {method!r}: "
                          f"{m.meta['reward_rows_missing']} row(s) lack a reward, so {list(REWARD_STRATEGIES)} "
                          "are not evaluated for this group", stacklevel=3)
    else:
        chosen = [s for s in strategies if s != "greedy"]
        for s in chosen:
            if s in REWARD_STRATEGIES:
                _check_rewards(m, s)
    return chosen


def _bootstrap_weights(n_units: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(B, P) resampling weights: multinomial counts / P (each row sums to 1)."""
    if n_boot <= 0:
        return np.zeros((0, n_units))
    counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    return counts / n_units


def _problem_values(m: SampleMatrix, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average unit values (runs) per problem: returns (problem ids, per-problem mean)."""
    if m.run_ids is None:
        return m.problem_ids, values
    codes, uniq = pd.factorize(pd.Series(m.problem_ids, dtype=object))
    tot = np.bincount(codes, weights=values, minlength=len(uniq))
    cnt = np.bincount(codes, minlength=len(uniq))
    return np.asarray(uniq, dtype=object), tot / cnt


def evaluate_matrix(m: SampleMatrix, strategies: Sequence[str] | None = None, ks: Iterable[int] | None = None,
                    n_draws: int = 256, seed: int = 0) -> list[dict]:
    """Per-problem accuracy and expected FLOPs of each strategy at each k for one matrix group.

    Returns a list of records ``{strategy, k, problem_ids, values, flops, var, n_capped}`` where
    ``values`` and ``flops`` are per-problem arrays and ``var`` is the per-problem Monte-Carlo variance
    of the estimate (None when exact).
    """
    method = m.key["method"]
    chosen = _strategies_for(m, strategies)
    rng = np.random.default_rng(seed)
    recs: list[dict] = []
    if method in GREEDY_METHODS:
        if not chosen:
            return recs
        acc = m.correct.sum(axis=1) / m.n          # several greedy rows of a problem are averaged
        cost = m.unit_flops / m.n + m.prompt_flops
        ids, v = _problem_values(m, acc)
        _, f = _problem_values(m, cost)
        recs.append({"strategy": "greedy", "k": 1, "problem_ids": ids, "values": v, "flops": f,
                     "var": None, "n_capped": 0})
        return recs
    if method in TREE_METHODS:
        kk = int(m.key["budget"])
        cost = m.unit_flops + m.prompt_flops
        for s in chosen:
            if s == "pass_at_k":
                acc = (m.correct.sum(axis=1) > 0).astype(float)
            elif s == "majority":
                acc = est.vote_all(m.codes, m.class_value)
            elif s == "weighted_majority":
                _nonneg(m)
                acc = est.vote_all(m.codes, m.class_value, m.reward)
            elif s == "best_of_n":
                acc = est.best_of_k(m.reward, m.correct, m.n, int(m.n.max()))
            else:
                raise ValueError(f"unknown strategy {s!r}; expected one of {STRATEGIES}")
            ids, v = _problem_values(m, acc)
            _, f = _problem_values(m, cost)
            recs.append({"strategy": s, "k": kk, "problem_ids": ids, "values": v, "flops": f, "var": None,
                         "n_capped": 0})
        return recs
    if method not in SAMPLING_METHODS:
        raise SchemaError(f"unknown method {method!r} in task {m.key['task']!r}, model {m.key['model']!r}; "
                          f"expected one of {SAMPLING_METHODS + GREEDY_METHODS + TREE_METHODS}")
    ks = sorted({int(k) for k in (default_ks(m.n) if ks is None else ks)})
    if ks and ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    per_sol = m.unit_flops / m.n
    n_correct = m.correct.sum(axis=1)
    wm = bon = None
    if "best_of_n" in chosen:
        bon = est.best_of_ks(m.reward, m.correct, m.n, ks)
    if "weighted_majority" in chosen:
        _nonneg(m)
        wm = est.weighted_majority_mc(m.codes, m.reward, m.class_value, ks, n_draws=n_draws, seed=rng)
    for k in ks:
        kp = np.minimum(k, m.n)
        cost = kp * per_sol + m.prompt_flops
        capped = int((m.n < k).sum())
        for s in chosen:
            var = None
            if s == "pass_at_k":
                acc = est.pass_at_k(m.n, n_correct, k)
            elif s == "majority":
                acc = est.majority_at_k(m.codes, m.class_value, m.n, k)
            elif s == "best_of_n":
                acc = bon[k]
            elif s == "weighted_majority":
                acc, var = wm[k]
                exact = kp >= m.n          # the whole set: no sampling noise
                var = np.where(exact, 0.0, var / n_draws)
            else:
                raise ValueError(f"unknown strategy {s!r}; expected one of {STRATEGIES}")
            recs.append({"strategy": s, "k": k, "problem_ids": m.problem_ids, "values": acc, "flops": cost,
                         "var": var, "n_capped": capped})
    return recs


def _map_groups(mats: list[SampleMatrix], strategies, ks, n_draws: int, seed: int, n_jobs: int) -> list[list[dict]]:
    """evaluate_matrix over every group, in worker processes when ``n_jobs != 1``."""
    ks = None if ks is None else [int(k) for k in ks]
    jobs = (os.cpu_count() or 1) if n_jobs in (-1, None) else int(n_jobs)
    jobs = min(jobs, len(mats))
    if jobs <= 1:
        return [evaluate_matrix(m, strategies, ks, n_draws=n_draws, seed=seed + gi) for gi, m in enumerate(mats)]
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(range(len(mats)), key=lambda i: -mats[i].codes.size)   # largest first
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futs = {i: pool.submit(evaluate_matrix, mats[i], strategies, ks, n_draws, seed + i) for i in order}
        return [futs[i].result() for i in range(len(mats))]


def _nonneg(m: SampleMatrix) -> None:
    valid = m.codes >= 0
    if m.reward is not None and (m.reward[valid] < 0).any():
        raise ValueError(f"weighted_majority sums rewards per answer, so rewards must be >= 0, but task "
                         f"{m.key['task']!r}, model {m.key['model']!r} has rewards down to "
                         f"{np.nanmin(m.reward[valid]):.4g}; transform them (e.g. a sigmoid of logits)")


def evaluate(samples: pd.DataFrame, strategies: Sequence[str] | None = None, ks: Iterable[int] | None = None,
             flops: Compute | dict | str | None = None, reward_agg: str | None = None,
             by: str | list[str] | None = None, confidence: float = 0.95, seed: int = 0,
             n_boot: int = 1000, n_draws: int = 128, per_problem: bool = False, n_jobs: int = 1) -> pd.DataFrame:
    """Accuracy of each strategy at each k for every (task, model, method), with FLOPs and intervals.

    Parameters
    ----------
    samples : a validated sample table (:func:`scaling.read_samples`).
    strategies : subset of ``greedy, majority, weighted_majority, best_of_n, pass_at_k``; by default
        every strategy the data supports (reward strategies only where rewards exist).  Asking for a
        reward strategy on rows without rewards raises :class:`SchemaError` naming it.
    ks : subset sizes for ``method == "sample"``; default powers of two up to the smallest problem's
        solution count (plus that count).  A problem with fewer than k solutions uses all of them
        (its estimate and its cost are those of its n solutions); ``n_capped`` counts such problems.
        Tree-search rows use k = the run's ``budget``; greedy rows k = 1.
    flops : compute convention (:class:`scaling.flops.Compute`, a dict or a string such as
        ``"prompt=per_problem,reward"``); default the paper's 2·N·T_gen.
    reward_agg : ``None`` (the ``reward`` column) or ``last``/``min``/``prod``/``mean`` over
        ``step_rewards``.
    by : extra grouping column(s) constant within a problem, e.g. ``"difficulty"``.
    confidence, n_boot, seed : percentile bootstrap over problems (same resamples for every strategy
        and k of a group, so differences between curves are paired).
    n_draws : random subsets per problem and k for the Monte-Carlo strategies (weighted majority).
    per_problem : return one row per problem instead of the aggregate (columns ..., problem_id,
        accuracy, flops, mc_var).
    n_jobs : worker processes over (task, model, method) groups; -1 for every core.  Results do not
        depend on it (each group has its own seed).

    Returns
    -------
    DataFrame with columns task, model, params, method, strategy, k, flops, accuracy, ci_low, ci_high,
    mc_se, n_problems, n_capped, reward_agg (+ the ``by`` columns).  ``flops`` is the expected compute
    per problem; ``accuracy`` the mean over problems of each problem's exact (or Monte-Carlo)
    expectation over size-k subsets; ``mc_se`` the Monte-Carlo standard error of ``accuracy`` (NaN when
    exact).

    Example
    -------
    >>> curves = evaluate(samples, strategies=["majority"], ks=[1, 4, 16])   # doctest: +SKIP
    """
    if strategies is not None:
        strategies = [strategies] if isinstance(strategies, str) else list(strategies)
        bad = [s for s in strategies if s not in STRATEGIES]
        if bad:
            raise ValueError(f"unknown strategies {bad}; expected some of {list(STRATEGIES)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    by_cols = [by] if isinstance(by, str) else list(by or [])
    mats = to_matrices(samples, compute=flops, reward_agg=reward_agg, by=by_cols)
    rows = []
    alpha = (1 - confidence) / 2
    all_recs = _map_groups(mats, strategies, ks, n_draws, seed, n_jobs)
    for gi, (m, recs) in enumerate(zip(mats, all_recs, strict=True)):
        if not recs:
            continue
        base = {c: m.key[c] for c in ("task", "model", "params", "method")}
        base.update({c: m.key[c] for c in by_cols})
        base["reward_agg"] = reward_agg
        if per_problem:
            for r in recs:
                var = r["var"] if r["var"] is not None else np.full(len(r["values"]), np.nan)
                rows.append(pd.DataFrame({**base, "strategy": r["strategy"], "k": r["k"],
                                          "problem_id": r["problem_ids"], "accuracy": r["values"],
                                          "flops": r["flops"], "mc_var": var}))
            continue
        n_units = len(recs[0]["values"])
        wts = _bootstrap_weights(n_units, n_boot, np.random.default_rng(seed + 7919 * gi))
        vals = np.stack([r["values"] for r in recs], axis=1)      # (P, R)
        boots = wts @ vals if n_boot > 0 else None
        for j, r in enumerate(recs):
            acc = float(vals[:, j].mean())
            lo, hi = (np.quantile(boots[:, j], [alpha, 1 - alpha]) if boots is not None else (np.nan, np.nan))
            mc_se = np.nan if r["var"] is None else float(np.sqrt(r["var"].sum()) / n_units)
            rows.append({**base, "strategy": r["strategy"], "k": int(r["k"]), "flops": float(r["flops"].mean()),
                         "accuracy": acc, "ci_low": float(lo), "ci_high": float(hi), "mc_se": mc_se,
                         "n_problems": n_units, "n_capped": r["n_capped"]})
    if per_problem:
        out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        return out
    cols = CURVE_COLUMNS[:-1] + by_cols + ["reward_agg"]
    out = pd.DataFrame.from_records(rows, columns=cols)
    out = out.sort_values(["task", "model", "method", "strategy"] + by_cols + ["k"], kind="stable")
    return out.reset_index(drop=True)


def limits(samples: pd.DataFrame, reward_agg: str | None = None, by: str | list[str] | None = None,
           per_problem: bool = False, confidence: float = 0.95, n_boot: int = 1000,
           seed: int = 0) -> pd.DataFrame:
    """Plug-in limits of majority and weighted voting as the number of samples grows (Theorems 1, 2).

    For each problem the limit of majority@k is 1 when the correct answer holds the largest share
    of the answer distribution, 0 when another answer does (ties split); weighted voting uses the
    reward-weighted distribution (sum of rewards per answer).  With the model's distribution replaced
    by the cached solutions' empirical one, the task-level limit is the share of problems that the
    correct answer wins, and each problem's ``margin = correct_share - top_wrong_share`` tells how fast
    it is approached (the gap shrinks roughly like ``exp(-k · margin² / 2)``; a small |margin| means many
    samples are needed, and a sign that the finite-sample estimate of the winner is uncertain).

    Returns task, model, method, strategy, limit, ci_low, ci_high, n_problems, median_margin (+ by);
    with ``per_problem=True`` one row per problem: ..., problem_id, correct_share, top_wrong_share,
    margin, limit.
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    mats = to_matrices(samples, reward_agg=reward_agg, by=by_cols)
    rows = []
    alpha = (1 - confidence) / 2
    for gi, m in enumerate(mats):
        if m.key["method"] not in SAMPLING_METHODS:
            continue
        n_classes = m.class_value.shape[1]
        counts = class_mass(m.codes, None, n_classes)
        kinds = [("majority", counts)]
        if m.has_rewards:
            valid = m.codes >= 0
            if not (m.reward[valid] < 0).any():
                kinds.append(("weighted_majority", class_mass(m.codes, m.reward, n_classes)))
        for strategy, mass in kinds:
            # shares of all solutions (majority) or of all answered reward mass (weighted)
            total = m.n.astype(float) if strategy == "majority" else mass.sum(axis=1)
            denom = np.where(total > 0, total, 1.0)
            good = m.class_value > 0.5
            present = counts > 0
            c_share = np.where(good & present, mass, 0).max(axis=1) / denom
            w_share = np.where(~good & present, mass, 0).max(axis=1) / denom
            lim = est.vote(mass, present, m.class_value)
            margin = c_share - w_share
            base = {c: m.key[c] for c in ("task", "model", "method")} | {c: m.key[c] for c in by_cols}
            if per_problem:
                rows.append(pd.DataFrame({**base, "strategy": strategy, "problem_id": m.problem_ids,
                                          "correct_share": c_share, "top_wrong_share": w_share,
                                          "margin": margin, "limit": lim}))
                continue
            wts = _bootstrap_weights(len(lim), n_boot, np.random.default_rng(seed + gi))
            boots = wts @ lim
            lo, hi = np.quantile(boots, [alpha, 1 - alpha]) if n_boot > 0 else (np.nan, np.nan)
            rows.append({**base, "strategy": strategy, "limit": float(lim.mean()), "ci_low": float(lo),
                         "ci_high": float(hi), "n_problems": len(lim),
                         "median_margin": float(np.median(margin))})
    if per_problem:
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return pd.DataFrame.from_records(rows, columns=["task", "model", "method"] + by_cols + [
        "strategy", "limit", "ci_low", "ci_high", "n_problems", "median_margin"])


__all__ = ["evaluate", "evaluate_matrix", "limits", "STRATEGIES", "CURVE_COLUMNS", "default_ks"]

"""Fitting the saturation laws of an evaluation: measured points + per-problem extrapolations -> :class:`Laws`.

:meth:`scaling.Evaluation.fit` calls :func:`fit_evaluation`; one saturation curve per configuration
(:mod:`scaling.curves`), anchored at the plug-in voting limits, with a bootstrap over problems.  This module
reads an evaluation by its attributes (``curves``, ``per_problem``, ``extrapolated``, ``extrapolated_summary``,
``limits``, ``limits_per_problem``, ``settings``) and never imports :mod:`scaling.evaluation`: the evaluation
builds its results, as a statsmodels model builds its results object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .curves import CurveFit, binomial_se, fit_curve
from .laws import Laws, _clean_key, _jsonable, _label, _package_version
from .schema import config_columns

__all__ = ["fit_evaluation"]


def _by_key(table: pd.DataFrame, keys: list[str]) -> dict[tuple, pd.DataFrame]:
    """Rows of ``table`` per configuration (key values as strings, so missing values match)."""
    keys = [c for c in keys if c in table.columns]
    if not len(table) or not keys:
        return {}
    return {tuple(map(str, g if isinstance(g, tuple) else (g,))): d
            for g, d in table.groupby(keys, dropna=False, sort=False)}


def _wide(d: pd.DataFrame, column: str, ks=None) -> pd.DataFrame:
    w = d.pivot(index="k", columns="problem_id", values=column)
    return w if ks is None else w.reindex(ks)


def _curve_data(d: pd.DataFrame, dp: pd.DataFrame | None, de: pd.DataFrame | None):
    """Points (measured, then extrapolated), their standard errors and the (points x problems) values
    and FLOPs for the bootstrap (None when some problem lacks a value)."""
    P = int(d["n_problems"].max())
    flops, acc = d.flops.to_numpy(float), d.accuracy.to_numpy(float)
    se = np.sqrt(binomial_se(acc, P) ** 2 + np.nan_to_num(d["mc_se"].to_numpy(float)) ** 2)
    observed = np.ones(len(acc), bool)
    V = F = None
    if dp is not None:
        V, F = _wide(dp, "accuracy", d.k.to_numpy()), _wide(dp, "flops", d.k.to_numpy())
    if de is not None:
        ev, ef = _wide(de, "accuracy"), _wide(de, "flops")
        e_acc = ev.mean(axis=1).to_numpy()
        e_se = np.sqrt(binomial_se(e_acc, ev.shape[1]) ** 2 + 0.01 ** 2)  # + a model-uncertainty floor
        flops = np.concatenate([flops, ef.mean(axis=1).to_numpy()])
        acc, se = np.concatenate([acc, e_acc]), np.concatenate([se, e_se])
        observed = np.concatenate([observed, np.zeros(len(e_acc), bool)])
        if V is not None:
            V = pd.concat([V, ev.reindex(columns=V.columns)])
            F = pd.concat([F, ef.reindex(columns=F.columns)])
    complete = V is not None and not V.isna().any().any() and not F.isna().any().any()
    return P, flops, acc, se, observed, (V, F) if complete else None


def _fit_one(key: dict, d: pd.DataFrame, dp, de, limit: float | None, dl, *, families, n_boot: int,
             seed: int, ds: pd.DataFrame | None = None) -> CurveFit:
    """One configuration's curve: measured points + extrapolations, bootstrap over problems, the plug-in
    limit resampled with the problems (``dl``: its per-problem rows).  ``ds``: the extrapolations' summary
    rows (the model's mean and interval per k), which the curve's predictions pass through beyond the
    measured FLOPs (:meth:`scaling.curves.CurveFit.predict`)."""
    P, flops, acc, se, observed, wide = _curve_data(d, dp, de)
    per = lim_pp = None
    if wide is not None:
        per = (wide[0].to_numpy(float), wide[1].to_numpy(float))
        if limit is not None and dl is not None:
            s_ = dl.groupby("problem_id")["limit"].mean().reindex(wide[0].columns)
            lim_pp = None if s_.isna().any() else s_.to_numpy(float)
    cf = fit_curve(flops, acc, se=se, n_problems=P, families=families, strategy=str(key["strategy"]), limit=limit,
                   key=key, per_problem=per, observed=observed, n_boot=n_boot if per else 0, seed=seed,
                   limit_per_problem=lim_pp)
    ks = d.k.to_numpy(float)
    cf.extra["cost_per_k"] = float(np.median(d.flops.to_numpy(float) / ks))
    cf.extra["k_max"] = int(ks.max())
    if ds is not None and len(ds):
        ds = ds[ds.extrapolated.astype(bool)].sort_values("flops")
        cf.extra["model_points"] = {c: ds[c].astype(float).tolist() for c in ("k", "flops", "accuracy", "ci_low",
                                                                             "ci_high")}
    return cf


def fit_evaluation(ev, *, families: Sequence[str] | None = None, n_boot: int = 200,
        seed: int = 0, min_points: int = 3, sources: Mapping[str, str] | None = None,
        progress: bool = False) -> Laws:
    """Fit a saturation curve to every configuration of an evaluation -> :class:`Laws`.

    ``Evaluation.fit(**options)`` and :func:`scaling.evaluation.fit` call this; ``python -m scaling.fit``
    runs the same on each task.

    Parameters
    ----------
    ev : an :class:`scaling.evaluation.Evaluation` (:func:`scaling.evaluate`); its per-problem values,
        extrapolations and limits are read.
    families : restrict the candidate curve families (default by strategy, see :mod:`scaling.curves`).
    n_boot, seed : bootstrap over problems per curve (bands, parameter intervals); the plug-in limit of a
        voting curve is resampled with the same problems.
    min_points : a configuration with fewer measured k keeps its points but gets no curve.
    sources : input file -> SHA-256, recorded in the saved file (:func:`file_hashes`).
    progress : show a progress bar over the curves.

    Each curve is fitted to the measured points plus the evaluation's per-problem extrapolations (which
    join the final fit but not the held-out choice of family), with the plug-in limit anchoring the
    ``power_floor_limit`` family of voting curves.  Labels are ``model / method / strategy[ / by=v]``,
    led by the task when the evaluation spans several tasks.
    """
    if ev.curves.empty:
        raise ValueError("fit: the evaluation has no curves")
    keys = config_columns(ev.curves)
    with_task = ev.curves["task"].nunique() > 1
    pts = ev.curves.copy()
    pts["label"] = [_label(_clean_key(dict(zip(keys, r, strict=True))), with_task)
                    for r in pts[keys].itertuples(index=False)]
    per_problem, extrapolated = _by_key(ev.per_problem, keys), _by_key(ev.extrapolated, keys)
    ex_summary = _by_key(ev.extrapolated_summary, keys)
    lim_keys = [c for c in keys if c in ev.limits_per_problem.columns]
    lim_rows = _by_key(ev.limits_per_problem, lim_keys)
    lim_map = {tuple(map(str, r[:-1])): float(r[-1]) for r in ev.limits[lim_keys + ["limit"]].itertuples(index=False)}
    groups = [(tuple(map(str, g)), d) for g, d in pts.groupby(keys, dropna=False, sort=True)]
    if progress:
        from tqdm.auto import tqdm
        groups = tqdm(groups, desc="fitting curves", unit="curve")
    out: dict[str, CurveFit] = {}
    for g, d in groups:
        if d["k"].nunique() < min_points:
            continue
        key = _clean_key(dict(zip(keys, d.iloc[0][keys], strict=True)))
        lk = tuple(v for c, v in zip(keys, g, strict=True) if c in lim_keys)
        out[d["label"].iloc[0]] = _fit_one(key, d.sort_values("flops"), per_problem.get(g), extrapolated.get(g),
                                           lim_map.get(lk), lim_rows.get(lk), families=families, n_boot=n_boot,
                                           seed=seed, ds=ex_summary.get(g))
    settings = {c: v for c, v in ev.settings.items() if c not in ("compute", "seed", "n_boot")}
    meta = {"compute": ev.settings.get("compute", "2·N·T_gen (paper)"), "sources": dict(sources or {}),
            "package_version": _package_version(), "n_boot": int(n_boot), "seed": int(seed),
            "evaluation": _jsonable(settings), "data_range": {"flops": [float(pts.flops.min()), float(pts.flops.max())]}}
    keep = [c for c in keys + ["label", "k", "flops", "accuracy", "ci_low", "ci_high"] if c in pts]
    return Laws(out, pts[keep].reset_index(drop=True), ev.limits, meta)

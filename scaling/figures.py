"""Figure and table helpers for the paper's figures and tables, on the tidy tables of an evaluation.

Pure numpy/pandas/matplotlib (importing it chooses no matplotlib backend).  Everything here works on the
tables of :func:`scaling.evaluate` -- ``ev.curves`` (``task, model, params, method, strategy, k, flops,
accuracy, ci_low, ci_high`` + ``by`` columns) and ``ev.limits`` -- so a notebook cell only chooses data
and calls these.  (Where the notebooks read and write is their own business: ``notebooks/_common.py``.)

* :func:`subsample_problems` -- the same problems for every model (stratified by difficulty);
* :func:`family_task` -- the task with the most model sizes under i.i.d. sampling;
* :func:`size_colours`, :func:`plot_curves`, :func:`finish_axes` -- error (%) vs FLOPs with bands,
  one colour per model size, one line style per method;
* :func:`interp_accuracy`, :func:`matched_compute` -- accuracy of one method at another's compute
  (log-linear interpolation in log FLOPs), and the compute a method needs to reach another's accuracy;
* :func:`difficulty_bin` -- easy (level <= 2) / hard (level >= 3), as in the paper's Fig. 8;
* :func:`table4`, :func:`table1` -- the paper's Table 4 and Table 1 layouts;
* :func:`saturation` -- accuracy at the largest k beside the plug-in voting limit (Theorems 1, 2).

>>> import pandas as pd
>>> c = pd.DataFrame({"flops": [1e10, 1e12], "accuracy": [0.2, 0.6]})
>>> interp_accuracy(c, [1e11, 1e13]).round(3)      # one value per budget; NaN outside the measured range
array([0.4, nan])
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .names import METHOD_NAMES, STRATEGY_SHORT, size_label

__all__ = ["subsample_problems", "family_task", "has_rewards", "size_colours", "size_label", "METHOD_STYLE",
           "METHOD_NAMES", "STRATEGY_SHORT", "plot_curves", "finish_axes", "log_ticks", "interp_accuracy",
           "interp_flops", "matched_compute", "difficulty_bin", "table4", "table1", "saturation"]

#: line style and marker per generation method
METHOD_STYLE = {"sample": ("-", "o"), "rebase": ("--", "s"), "mcts": (":", "^"), "greedy": ("none", "*")}


def _level(v) -> float:
    """Trailing integer of a difficulty label ('Level 3' -> 3, '4' -> 4); NaN when none."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return np.nan
    m = re.search(r"(\d+)\s*$", str(v))
    return float(m.group(1)) if m else np.nan


def subsample_problems(samples: pd.DataFrame, max_problems: int | None, seed: int = 0) -> pd.DataFrame:
    """Keep at most ``max_problems`` problems per task (all rows of each kept problem, for every model and
    method), drawn without replacement and stratified by ``difficulty`` when that column is filled.
    ``None`` or a count at least the task's size returns the table unchanged."""
    if not max_problems:
        return samples
    rng = np.random.default_rng(seed)
    keep = []
    for task, d in samples.groupby("task", sort=True):
        probs = d.drop_duplicates("problem_id")
        ids = probs.problem_id.astype(str).to_numpy()
        if len(ids) <= max_problems:
            keep.append(pd.DataFrame({"task": task, "problem_id": ids}))
            continue
        if "difficulty" in probs and probs.difficulty.notna().all():
            strata = probs.difficulty.astype(str).to_numpy()
        else:
            strata = np.zeros(len(ids), dtype=object)
        chosen = []
        for s in sorted(set(strata)):
            pool = np.sort(ids[strata == s])
            n_s = max(1, int(round(max_problems * len(pool) / len(ids))))
            chosen.extend(rng.choice(pool, size=min(n_s, len(pool)), replace=False))
        keep.append(pd.DataFrame({"task": task, "problem_id": chosen}))
    k = pd.concat(keep, ignore_index=True)
    key = samples.task.astype(str) + "\x00" + samples.problem_id.astype(str)
    kept = set(k.task.astype(str) + "\x00" + k.problem_id.astype(str))
    return samples[key.isin(kept).to_numpy()].reset_index(drop=True)


def family_task(samples: pd.DataFrame, min_sizes: int = 2) -> str | None:
    """The task with the most distinct model sizes under ``method == 'sample'`` (ties: most rows);
    None when no task has ``min_sizes`` sizes."""
    s = samples[samples.method == "sample"]
    if s.empty:
        return None
    n = s.groupby("task").agg(sizes=("params", "nunique"), rows=("params", "size"))
    n = n[n.sizes >= min_sizes]
    if n.empty:
        return None
    return str(n.sort_values(["sizes", "rows"], ascending=False).index[0])


def has_rewards(samples: pd.DataFrame) -> bool:
    """True when every non-greedy row has a verifier score (``reward``, or ``step_rewards`` from which
    :func:`scaling.evaluate` takes the last step's score), so the reward strategies (weighted voting,
    best-of-n) can be evaluated; greedy rows need none."""
    d = samples[samples.method != "greedy"]
    if d.empty:
        return False
    if "reward" in d and d["reward"].notna().all():
        return True
    return "step_rewards" in d and bool(d["step_rewards"].notna().all())


def size_colours(params) -> dict[float, tuple]:
    """One colour per model size (viridis from dark purple, smallest, to green, largest), the same in every figure made from
    the same set of sizes."""
    vals = sorted({float(p) for p in params})
    cmap = plt.get_cmap("viridis")
    if len(vals) == 1:
        return {vals[0]: cmap(0.35)}
    return {v: cmap(0.82 * i / (len(vals) - 1)) for i, v in enumerate(vals)}  # 0.82: the top stays legible


def plot_curves(ax, curves: pd.DataFrame, colours: dict[float, tuple] | None = None, *, band: bool = True,
                label: str = "{model} ({size}), {method}", style_by: str = "method", colour_by: str = "params",
                style: dict | None = None):
    """Test error (%) against FLOPs per problem, one line per (model, method[, by]) group of ``curves``
    (rows of one strategy), with the bootstrap confidence band (``ci_low``/``ci_high``) shaded.

    Colour by model size (``colour_by``), line style and marker by method (``style_by``); greedy rows are
    drawn as single star markers.  ``label`` may use {model}, {size}, {method}, {strategy}."""
    if curves.empty:
        return ax
    colours = colours or size_colours(curves[colour_by] if colour_by == "params" else [])
    style = style or METHOD_STYLE
    group_cols = [c for c in ("params", "model", "method", "strategy") if c in curves]  # legend: small to large
    for g, d in curves.groupby(group_cols, sort=True):
        key = dict(zip(group_cols, g, strict=True))
        d = d.sort_values("flops")
        ls, mk = style.get(str(key.get(style_by)), ("-", "o"))
        cval = key.get(colour_by)
        col = colours.get(float(cval) if colour_by == "params" else cval, "k")
        lab = label.format(model=key.get("model"), size=size_label(key.get("params", np.nan)),
                           method=METHOD_NAMES.get(str(key.get("method")), key.get("method")),
                           strategy=STRATEGY_SHORT.get(str(key.get("strategy")), key.get("strategy")))
        err = 100 * (1 - d.accuracy.to_numpy(float))
        if ls == "none" or len(d) == 1:
            ax.plot(d.flops, err, ls="none", marker=mk, ms=11 if mk == "*" else 6, color=col, mec="k", mew=0.5,
                    label=lab, zorder=4)
            continue
        ax.plot(d.flops, err, ls=ls, marker=mk, ms=4, lw=1.6, color=col, label=lab)
        if band and {"ci_low", "ci_high"} <= set(d.columns) and d.ci_low.notna().all():
            lo, hi = 100 * (1 - d.ci_high.to_numpy(float)), 100 * (1 - d.ci_low.to_numpy(float))
            if ls in ("-", "--"):  # shaded bands for solid/dashed lines, error bars for the rest (readable overlap)
                ax.fill_between(d.flops, lo, hi, color=col, alpha=0.13 if ls == "-" else 0.09, lw=0,
                                hatch=None if ls == "-" else "///", edgecolor=col)
            else:
                ax.errorbar(d.flops, err, yerr=[err - lo, hi - err], fmt="none", ecolor=col, elinewidth=0.9,
                            capsize=3, alpha=0.8)
    return ax


def log_ticks(ax, axis: str = "x"):
    """Readable log-axis ticks: decades labelled, minor ticks unlabelled; on an axis spanning less than
    two decade ticks, 1-2-5 ticks are labelled instead (so at least two labels show)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    a = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    lo = max(lo, 1e-300)
    decades = int(np.floor(np.log10(hi)) - np.ceil(np.log10(lo))) + 1  # labelled decades inside the range
    subs = (1.0,) if decades >= 2 else (1.0, 2.0, 5.0)
    a.set_major_locator(LogLocator(base=10, subs=subs))
    a.set_major_formatter(LogFormatterSciNotation(base=10, labelOnlyBase=False))
    a.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 1.0))
    a.set_minor_formatter(NullFormatter())
    return ax


def finish_axes(ax, title: str | None = None, legend: bool = True, legend_kw: dict | None = None):
    """Log FLOPs x axis, error (%) y axis, grid, legend, title."""
    ax.set_xscale("log")
    ax.set_xlabel("inference FLOPs per question (log scale)")
    ax.set_ylabel("test error (%)")
    ax.grid(True, which="major", alpha=0.3)
    log_ticks(ax, "x")
    if title:
        ax.set_title(title, fontsize=10)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(**({"fontsize": 7, "framealpha": 0.9} | (legend_kw or {})))
    return ax


def interp_accuracy(curve: pd.DataFrame, flops) -> np.ndarray:
    """Accuracy of one curve (rows with ``flops``, ``accuracy``) at ``flops``, interpolated linearly in
    log10 FLOPs between measured points: ``a(C) = a_i + (a_{i+1} - a_i) (log C - log C_i) /
    (log C_{i+1} - log C_i)``.  Returns an array with one value per budget (a scalar ``flops`` gives a
    1-element array); NaN outside the measured range (no extrapolation)."""
    d = curve.sort_values("flops")
    x = np.log10(d.flops.to_numpy(float))
    y = d.accuracy.to_numpy(float)
    q = np.log10(np.atleast_1d(np.asarray(flops, float)))
    out = np.interp(q, x, y)
    out[(q < x[0] - 1e-9) | (q > x[-1] + 1e-9)] = np.nan
    return out


def interp_flops(curve: pd.DataFrame, accuracy: float) -> float:
    """The least FLOPs at which the curve (interpolated in log FLOPs) first reaches ``accuracy``; NaN when
    it never does within its measured range."""
    d = curve.sort_values("flops")
    x = np.log10(d.flops.to_numpy(float))
    y = d.accuracy.to_numpy(float)
    hit = np.flatnonzero(y >= accuracy)
    if not len(hit):
        return float("nan")
    i = hit[0]
    if i == 0:
        return float(10 ** x[0])
    t = (accuracy - y[i - 1]) / (y[i] - y[i - 1])
    return float(10 ** (x[i - 1] + t * (x[i] - x[i - 1])))


def matched_compute(curves: pd.DataFrame, base: str = "sample", other: str = "rebase",
                    by: list[str] | None = None) -> pd.DataFrame:
    """Compare method ``other`` with ``base`` at equal compute, per (task, model, strategy[, by]).

    For every measured point of ``other`` (k, flops, accuracy): ``base_accuracy`` is the base curve's
    accuracy at the same FLOPs (interpolated, NaN outside its range), ``gain = accuracy - base_accuracy``,
    ``base_flops`` the FLOPs the base needs to reach the same accuracy (NaN if it never does) and
    ``saving = base_flops / flops``.  Returns one row per point of ``other``."""
    by = list(by or [])
    keys = [c for c in ("task", "model", "strategy") if c in curves] + by
    rows = []
    for g, d in curves.groupby(keys, sort=True):
        g = g if isinstance(g, tuple) else (g,)
        b = d[d.method == base]
        o = d[d.method == other].sort_values("flops")
        if b.empty or o.empty:
            continue
        acc_b = interp_accuracy(b, o.flops.to_numpy(float))
        for (_, r), ab in zip(o.iterrows(), acc_b, strict=True):
            bf = interp_flops(b, float(r.accuracy))
            rows.append({**dict(zip(keys, g, strict=True)), "params": r.params, "k": int(r.k), "flops": r.flops,
                         "accuracy": r.accuracy, "base_accuracy": ab, "gain": r.accuracy - ab,
                         "base_flops": bf, "saving": bf / r.flops if np.isfinite(bf) else np.nan})
    return pd.DataFrame(rows, columns=keys + ["params", "k", "flops", "accuracy", "base_accuracy", "gain",
                                              "base_flops", "saving"])


def difficulty_bin(samples: pd.DataFrame, column: str = "difficulty", easy_max: int | None = 2,
                   out: str = "difficulty_bin") -> pd.DataFrame:
    """Add ``out`` = 'easy' where the level in ``column`` (its trailing integer: 'Level 2' -> 2, '3' -> 3)
    is at most ``easy_max``, 'hard' otherwise -- the paper's split of MATH (levels 1-2 easy, 3-5 hard).
    ``easy_max=None`` applies that split's proportion to any number of levels: the lowest two fifths,
    ``max(1, round(0.4 * top level))`` (MATH 1-2 of 5, a ten-level task 1-4).  The result's
    ``attrs["difficulty_levels"]`` names the two bins' level ranges.
    Raises ValueError naming the first label without a level."""
    if column not in samples:
        raise ValueError(f"difficulty_bin: the table has no {column!r} column")
    lv = samples[column].map(_level)
    bad = lv.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"difficulty_bin: row {i} has {column}={samples[column].iloc[i]!r}, expected a label "
                         "ending in an integer level (e.g. 'Level 3' or '3')")
    top = int(lv.max()) if len(lv) else 0
    if easy_max is None:
        easy_max = max(1, round(0.4 * top))
    res = samples.copy()
    res[out] = np.where(lv.to_numpy() <= easy_max, "easy", "hard")
    res.attrs["difficulty_levels"] = {"easy": f"levels 1-{easy_max}", "hard": f"levels {easy_max + 1}-{top}"}
    return res


def _at_k(d: pd.DataFrame, n: int) -> pd.Series | None:
    """The row with the largest k <= n (None if none)."""
    d = d[d.k <= n]
    return None if d.empty else d.sort_values("k").iloc[-1]


def table4(curves: pd.DataFrame, n: int = 32, methods=("sample", "rebase"),
           strategies=("majority", "best_of_n", "weighted_majority")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's Table 4 layout: one row per model, columns ``greedy`` and ``<method>+<MV|BoN|WV>``,
    accuracy (%) at k = n (or the largest measured k <= n).  Returns (accuracy table, k used table)."""
    acc, used = {}, {}
    for (model, params), d in curves.groupby(["model", "params"], sort=False):
        ra, ru = {}, {}
        g = d[(d.method == "greedy")]
        if len(g):
            ra["greedy"], ru["greedy"] = 100 * float(g.accuracy.iloc[0]), 1
        for m in methods:
            for s in strategies:
                r = _at_k(d[(d.method == m) & (d.strategy == s)], n)
                col = f"{METHOD_NAMES.get(m, m)}+{STRATEGY_SHORT.get(s, s)}"
                ra[col] = np.nan if r is None else 100 * float(r.accuracy)
                ru[col] = np.nan if r is None else int(r.k)
        acc[(model, params)], used[(model, params)] = ra, ru
    order = sorted(acc, key=lambda t: t[1])
    cols = ["greedy"] + [f"{METHOD_NAMES.get(m, m)}+{STRATEGY_SHORT.get(s, s)}" for m in methods for s in strategies]
    a = pd.DataFrame([acc[o] for o in order], index=[o[0] for o in order]).reindex(columns=cols)
    u = pd.DataFrame([used[o] for o in order], index=[o[0] for o in order]).reindex(columns=cols)
    a.index.name = u.index.name = "model"
    return a.round(1), u


def table1(curves: pd.DataFrame, strategy: str = "weighted_majority", other: str = "rebase",
           base: str = "sample") -> pd.DataFrame:
    """The paper's Table 1 layout for every model that has both methods: sampling at its largest
    measured k and the tree search at its largest budget, each with n, FLOPs per question and
    accuracy (%) with its 95% CI.  On the tree-search row, ``sampling FLOPs to match`` is what sampling
    needs for the tree search's accuracy and ``FLOPs ratio`` that over the tree search's FLOPs; when
    sampling never gets there within its measured range, ``reached`` is False and the ratio is a lower
    bound (sampling's largest FLOPs over the tree search's)."""
    d = curves[curves.strategy == strategy]
    rows = []
    for (model, params), g in d.groupby(["model", "params"], sort=True):
        b, o = g[g.method == base], g[g.method == other]
        if b.empty or o.empty:
            continue
        rb, ro = b.sort_values("k").iloc[-1], o.sort_values("k").iloc[-1]
        need = interp_flops(b, float(ro.accuracy))
        reached = bool(np.isfinite(need))
        for method, r in ((base, rb), (other, ro)):
            tree = method == other
            rows.append({"model": model, "params": params, "method": METHOD_NAMES.get(method, method), "n": int(r.k),
                         "FLOPs": float(r.flops), "accuracy %": round(100 * float(r.accuracy), 1),
                         "95% CI": f"{100 * r.ci_low:.1f}-{100 * r.ci_high:.1f}",
                         "sampling FLOPs to match": (need if reached else np.nan) if tree else np.nan,
                         "FLOPs ratio": ((need if reached else float(b.flops.max())) / float(r.flops)) if tree else np.nan,
                         "reached": reached if tree else None})
    return pd.DataFrame(rows)


def saturation(curves: pd.DataFrame, limits: pd.DataFrame, method: str = "sample") -> pd.DataFrame:
    """How fast majority / weighted voting approach their plug-in limits (Theorems 1 and 2).

    Per (task, model, strategy): accuracy at k = 1 and at the largest k, the plug-in limit (with its CI)
    and the gap ``limit - accuracy(k)`` at k_max/8, k_max/4 and k_max/2 (columns ``gap_k<k>``; at k_max
    the plug-in estimate equals the accuracy by construction, since both are the vote over all cached
    samples).  Theorem 1 predicts the gap to shrink geometrically in k; ``gap_ratio`` is
    ``gap(k_max/2) / gap(k_max/4)`` (NaN once a gap is <= 0, i.e. closed within noise)."""
    v = curves[curves.strategy.isin(["majority", "weighted_majority"]) & (curves.method == method)]
    rows = []
    for (task, model, params, strategy), d in v.groupby(["task", "model", "params", "strategy"], sort=True):
        d = d.sort_values("k")
        lim = limits[(limits.task.astype(str) == str(task)) & (limits.model.astype(str) == str(model))
                     & (limits.strategy == strategy) & (limits.method == method)]
        L = float(lim.limit.iloc[0]) if len(lim) else np.nan
        kmax = int(d.k.iloc[-1])
        row = {"task": task, "model": model, "params": params, "strategy": strategy,
               "acc_k1": float(d.accuracy.iloc[0]), "k_max": kmax, "acc_k_max": float(d.accuracy.iloc[-1]),
               "limit": L, "limit_ci": (f"{lim.ci_low.iloc[0]:.3f}-{lim.ci_high.iloc[0]:.3f}" if len(lim) else "")}
        acc = dict(zip(d.k.astype(int), d.accuracy.astype(float), strict=True))
        for div in (8, 4, 2):
            kk = kmax // div
            row[f"gap_k{kk}"] = L - acc[kk] if kk in acc else np.nan
        g2, g4 = row.get(f"gap_k{kmax // 2}", np.nan), row.get(f"gap_k{kmax // 4}", np.nan)
        row["gap_ratio"] = g2 / g4 if g4 > 0 and g2 >= 0 else np.nan  # NaN: gap already closed
        rows.append(row)
    return pd.DataFrame(rows)

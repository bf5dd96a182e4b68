"""Figures of fitted inference scaling laws (matplotlib/seaborn).

Importing this module does not choose a matplotlib backend (``python -m scaling.fit`` selects the
file-only Agg backend for itself; a notebook keeps its own).

* :func:`error_vs_flops` -- test error (%) against inference FLOPs per problem on a log x axis, one colour
  per model size, measured points, the fitted curve with its bootstrap band, per-problem extrapolations
  as hollow markers (the paper's Fig. 1 left / Figs. 4-7 panels);
* :func:`frontier_plot` -- every measured configuration in grey and the Pareto frontier on top;
* :func:`optimal_size_plot` -- the compute-optimal model size against budget with the fitted line and
  the paper's line (log10 C = 1.19 log10 N + 2.03; Fig. 1 right).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import LogLocator

from .names import STRATEGY_NAMES, size_label, slug
from .registry import ORACLE_STRATEGIES

__all__ = ["error_vs_flops", "frontier_plot", "optimal_size_plot", "figure_names", "save_figure", "save_all"]

PAPER_SLOPE, PAPER_INTERCEPT = 1.19, 2.03


def _palette(values):
    vals = sorted(set(values))
    cols = sns.color_palette("viridis", n_colors=max(len(vals), 2))
    return {v: cols[i] for i, v in enumerate(vals)}


def error_vs_flops(laws, task: str, strategy: str, method: str = "sample", ax=None, extrapolation=None):
    """Error (%) vs FLOPs for one task and strategy, one colour per model size.

    ``extrapolation``: ``Evaluation.extrapolated_summary`` (columns task, model, method, strategy, flops,
    accuracy, ci_low, ci_high, extrapolated).  Its extrapolated rows are
    drawn as hollow markers with their 95 % interval as error bars, in place of the fit's unbanded
    extrapolated points."""
    curves = [cf for cf in laws.curves.values()
              if str(cf.key.get("task")) == str(task) and cf.key.get("strategy") == strategy
              and cf.key.get("method") == method]
    pts = laws.points
    pts = pts[(pts.task.astype(str) == str(task)) & (pts.strategy == strategy) & (pts.method == method)]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.8))
    allp = laws.points[laws.points.task.astype(str) == str(task)]
    models = {str(m): float(p) for m, p in zip(pts.model, pts.params, strict=True)}
    pal_all = {float(p) for p in allp.params}
    for cf in curves:
        models.setdefault(str(cf.key.get("model")), float(cf.key.get("params") or np.nan))
    pal = _palette(set(models.values()) | pal_all)
    drew = {"extrapolated": False, "limit": False}
    for model, params in sorted(models.items(), key=lambda kv: kv[1]):
        col = pal[params]
        p = pts[pts.model.astype(str) == model]
        lab = f"{model} ({size_label(params)})" if np.isfinite(params) else model
        if len(p):
            yerr = None
            if p.ci_low.notna().all():
                # a percentile band need not contain the point estimate (Monte-Carlo weighted voting on few
                # problems): draw the part of the band on each side of it, never a negative bar
                yerr = np.clip(np.vstack([100 * (p.ci_high - p.accuracy), 100 * (p.accuracy - p.ci_low)]), 0, None)
            ax.errorbar(p.flops, 100 * (1 - p.accuracy), yerr=yerr, fmt="o", ms=4, color=col, capsize=2,
                        lw=1, label=lab)
            lab = None
        cf = next((c for c in curves if str(c.key.get("model")) == model), None)
        if cf is not None:
            _draw_curve(ax, cf, col, lab, drew, extrapolation, task, model, method, strategy)
    greedy = laws.points[(laws.points.task.astype(str) == str(task)) & (laws.points.strategy == "greedy")]
    for _, g in greedy.iterrows():
        col = pal.get(float(g.params), "k")
        ax.plot([g.flops], [100 * (1 - g.accuracy)], "X", color=col, ms=8, mec="k", mew=0.6)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))   # 2x and 5x: labels that do not overlap
    ax.set_xlabel("inference FLOPs per problem (log scale)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"{task}: {STRATEGY_NAMES.get(strategy, strategy)} ({method})")
    ax.grid(True, which="major", alpha=0.3)
    _error_legend(ax, drew, bool(len(greedy)), extrapolation is not None)
    return ax


def _draw_curve(ax, cf, col, lab, drew: dict, extrapolation, task, model, method, strategy) -> None:
    """One size's fitted curve with its bootstrap band, its extrapolated points (the per-problem
    models' intervals when ``extrapolation`` is given) and its plug-in limit; ``drew`` records what the
    legend must explain."""
    lo, hi = cf.fit_range
    grid = np.geomspace(lo, hi, 120)
    acc = cf.predict(grid, warn=False)
    ls = "-" if cf.converged else ":"
    ax.plot(grid, 100 * (1 - acc), ls, color=col, lw=1.8, label=lab)
    _, blo, bhi = cf.predict(grid, interval=True, warn=False)
    if np.isfinite(blo).all():
        ax.fill_between(grid, 100 * (1 - bhi), 100 * (1 - blo), color=col, alpha=0.18, lw=0)
    ex = cf.points[cf.points.source == "extrapolated"]
    if extrapolation is not None:
        e = extrapolation
        ex = e[(e.task.astype(str) == str(task)) & (e.model.astype(str) == model) & (e.method == method)
               & (e.strategy == strategy) & e.extrapolated.astype(bool)]
        if len(ex):
            ax.errorbar(ex.flops, 100 * (1 - ex.accuracy), fmt="o", mfc="none", color=col, ms=5, capsize=3,
                        lw=1, ls="none", yerr=np.vstack([100 * (ex.ci_high - ex.accuracy).clip(lower=0),
                                                         100 * (ex.accuracy - ex.ci_low).clip(lower=0)]))
            drew["extrapolated"] = True
    elif len(ex):
        ax.plot(ex.flops, 100 * (1 - ex.accuracy), "o", mfc="none", color=col, ms=5)
        drew["extrapolated"] = True
    if cf.limit is not None and np.isfinite(cf.limit):
        ax.axhline(100 * (1 - cf.limit), color=col, lw=0.8, ls="--", alpha=0.7)
        drew["limit"] = True


def _error_legend(ax, drew: dict, has_greedy: bool, banded: bool) -> None:
    """The sizes' entries plus what the markers mean, beside the axes."""
    handles, labels = ax.get_legend_handles_labels()
    from matplotlib.lines import Line2D
    handles.append(Line2D([], [], color="k", marker="o", ls="none", ms=4))
    labels.append("measured (95% CI); line + band: fit (95% bootstrap)")
    if drew["extrapolated"]:
        handles.append(Line2D([], [], color="k", marker="o", mfc="none", ls="none", ms=5))
        labels.append("per-problem extrapolation" + (" (95% interval)" if banded else ""))
    if drew["limit"]:
        handles.append(Line2D([], [], color="k", ls="--", lw=0.8))
        labels.append("plug-in voting limit")
    if has_greedy:
        handles.append(Line2D([], [], color="k", marker="X", ls="none", ms=7))
        labels.append("greedy")
    # beside the axes, not over them: with many sizes a legend inside covers the curves
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)


def frontier_plot(laws, task: str, ax=None):
    """All measured configurations (grey) and the Pareto frontier (error % vs FLOPs)."""
    pts = laws.points[laws.points.task.astype(str) == str(task)]
    pts = pts[~pts.strategy.isin(ORACLE_STRATEGIES)]            # oracles (pass@k) only when named
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.8))
    ax.scatter(pts.flops, 100 * (1 - pts.accuracy), s=12, color="0.7", label="all configurations")
    fr = laws.frontier(task=task)
    if len(fr):
        ax.step(fr.flops, 100 * (1 - fr.accuracy), where="post", color="C3", lw=1.5)
        strategies = sorted(fr.strategy.unique())
        markers = dict(zip(strategies, "osD^vP*X", strict=False))
        pal = _palette(fr.params)
        for s in strategies:
            f = fr[fr.strategy == s]
            ax.scatter(f.flops, 100 * (1 - f.accuracy), marker=markers[s], s=40,
                       c=[pal[p] for p in f.params], edgecolor="k", lw=0.5, zorder=3,
                       label=f"frontier: {STRATEGY_NAMES.get(s, s)}")
        for _, r in fr.iterrows():
            ax.annotate(f"{r.model} k={r.k}", (r.flops, 100 * (1 - r.accuracy)), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("inference FLOPs per problem (log scale)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"{task}: Pareto frontier (pass@k, an oracle, excluded)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def optimal_size_plot(laws, task: str, ax=None):
    """Compute-optimal model size vs budget with the fitted and the paper's line; None if no size law."""
    sl = laws.size_law(task=task)
    if sl is None:
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.8))
    opt = sl.optimal
    C = np.asarray(opt["budget"], float)
    N = np.asarray(opt["params"], float)
    ax.scatter(C, N, s=18, color="C0", label="optimal size per budget (fitted curves)")
    cg = np.geomspace(C.min(), C.max(), 50)
    ax.plot(cg, 10 ** ((np.log10(cg) - sl.intercept) / sl.slope), color="C0",
            label=f"fit: log10 C = {sl.slope:.2f} log10 N {sl.intercept:+.2f}")
    ax.plot(cg, 10 ** ((np.log10(cg) - PAPER_INTERCEPT) / PAPER_SLOPE), "--", color="C1",
            label=f"paper (Pythia/GSM8K): {PAPER_SLOPE} log10 N + {PAPER_INTERCEPT}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("inference budget, FLOPs per problem (log scale)")
    ax.set_ylabel("optimal model size N (parameters, log scale)")
    ax.set_title(f"{task}: compute-optimal size ({STRATEGY_NAMES.get(sl.strategy, sl.strategy)})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def figure_names(laws, task: str) -> list[str]:
    """The figures :func:`save_all` writes for ``task``: one per strategy (greedy points are drawn in
    every strategy's panels), then ``frontier`` and ``optimal-size``."""
    pts = laws.points[laws.points.task.astype(str) == str(task)]
    combos = sorted({(m, s) for m, s in zip(pts.method, pts.strategy, strict=True)})
    return [*dict.fromkeys(s for _, s in combos if s != "greedy"), "frontier", "optimal-size"]


def _strategy_figure(laws, task: str, strategy: str, extrapolation=None):
    """Error vs FLOPs of one strategy, a panel per method (two columns)."""
    pts = laws.points[laws.points.task.astype(str) == str(task)]
    methods = sorted({m for m, s in zip(pts.method, pts.strategy, strict=True) if s == strategy})
    methods = [m for m in methods if m != "greedy"] or methods
    n = len(methods)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(9.5 * cols, 4.8 * rows), squeeze=False)   # room for legends
    for ax, m in zip(axes.ravel(), methods, strict=False):
        error_vs_flops(laws, task, strategy, method=m, ax=ax, extrapolation=extrapolation)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig


def save_figure(laws, task: str, name: str, out_dir: str | Path, dpi: int = 130, extrapolation=None) -> Path | None:
    """Draw and write ``<out_dir>/<task>-<name>.png``, one of :func:`figure_names`; returns its path, or None
    when there is nothing to draw (no size law for ``optimal-size``).  ``extrapolation``: the interval table
    of the extrapolated points (``Evaluation.extrapolated_summary``), drawn with its bands (see
    :func:`error_vs_flops`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if name == "frontier":
        fig, ax = plt.subplots(figsize=(7, 4.8))
        frontier_plot(laws, task, ax=ax)
    elif name == "optimal-size":
        fig, ax = plt.subplots(figsize=(6.5, 4.8))
        if optimal_size_plot(laws, task, ax=ax) is None:
            plt.close(fig)
            return None
    else:
        fig = _strategy_figure(laws, task, name, extrapolation)
    path = out_dir / f"{slug(task)}-{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, bbox_inches="tight")   # keeps a legend placed beside the axes
    plt.close(fig)
    return path


def save_all(laws, task: str, out_dir: str | Path, dpi: int = 130, extrapolation=None) -> list[Path]:
    """Write ``<task>-<strategy>.png`` per strategy (error vs FLOPs), ``<task>-frontier.png`` and
    ``<task>-optimal-size.png`` (when a size law exists); ``extrapolation`` as in :func:`save_figure`.
    Returns the paths written."""
    paths = (save_figure(laws, task, name, out_dir, dpi, extrapolation) for name in figure_names(laws, task))
    return [p for p in paths if p is not None]

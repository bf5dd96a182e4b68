"""Fitted inference scaling laws as an object and as a versioned JSON file.

``scaling.fit(curves)`` turns the tidy table of :func:`scaling.evaluate` into a :class:`Laws` object:
one saturation curve per (task, model, method, strategy[, reward_agg][, by-values]) (see
:mod:`scaling.curves`), the measured points, the Pareto frontier, the compute-optimal model-size law
and allocation queries.  ``Laws.save(path)`` writes JSON; :func:`load_law` reads it back and refuses
damaged files or unknown format versions.

>>> import scaling                                                   # doctest: +SKIP
>>> curves = scaling.evaluate(scaling.read_samples("data/samples"))  # doctest: +SKIP
>>> laws = scaling.fit(curves)                                       # doctest: +SKIP
>>> laws.optimal(1e14)["model"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .curves import CurveFit, binomial_se, fit_curve
from .frontier import curve_frontier, pareto

__all__ = ["Laws", "fit", "load_law", "LawFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "inference-scaling-laws"
FORMAT_VERSION = 1
#: Columns of the evaluate table that are not grouping keys.
_VALUE_COLS = {"k", "flops", "accuracy", "ci_low", "ci_high", "mc_se", "n_problems", "n_capped", "problem_id",
               "mc_var", "source", "se"}
_BASE_KEYS = ["task", "model", "params", "method", "strategy"]
#: Strategies whose curve defines the size law, in order of preference (the paper uses weighted voting).
SIZE_LAW_STRATEGIES = ("weighted_majority", "majority", "best_of_n", "pass_at_k")


class LawFileError(ValueError):
    """A laws file is damaged, of an unknown format version, or not a laws file."""


def _package_version() -> str:
    try:
        from . import __version__
        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"


def _jsonable(v):
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _key_cols(df: pd.DataFrame) -> list[str]:
    extra = [c for c in df.columns if c not in _VALUE_COLS and c not in _BASE_KEYS]
    keys = [c for c in _BASE_KEYS if c in df.columns] + extra
    return [c for c in keys if not (c == "reward_agg" and df[c].isna().all())]


def _label(key: Mapping) -> str:
    parts = [str(key.get(c)) for c in ("model", "method", "strategy") if c in key]
    parts += [f"{c}={v}" for c, v in key.items() if c not in ("task", "model", "params", "method", "strategy")
              and v is not None and not (isinstance(v, float) and math.isnan(v))]
    return " / ".join(parts)


def _clean_key(key: Mapping) -> dict:
    out = {}
    for c, v in key.items():
        if isinstance(v, float) and math.isnan(v):
            v = None
        out[c] = _jsonable(v)
    return out


class Laws:
    """Fitted curves, points, frontier and size law of one or more tasks.

    Attributes: ``curves`` (label -> :class:`scaling.curves.CurveFit`), ``points`` (every measured
    configuration: key columns, k, flops, accuracy, ci_low, ci_high), ``limits`` (plug-in voting
    ceilings, or None), ``meta`` (compute convention, sources, data range, versions).
    """

    def __init__(self, curves: dict[str, CurveFit], points: pd.DataFrame, limits: pd.DataFrame | None = None,
                 meta: dict | None = None):
        self.curves = curves
        self.points = points
        self.limits = limits
        self.meta = dict(meta or {})

    # ---------------------------------------------------------------- selection
    def _select(self, **match) -> list[tuple[str, CurveFit]]:
        out = []
        for label, cf in self.curves.items():
            if all(v is None or str(cf.key.get(c)) == str(v) for c, v in match.items()):
                out.append((label, cf))
        return out

    def curve(self, model: str | None = None, method: str | None = None, strategy: str | None = None,
              task: str | None = None, **by) -> CurveFit:
        """The one curve matching the given key values (error if none or several match)."""
        hits = self._select(model=model, method=method, strategy=strategy, task=task, **by)
        if len(hits) != 1:
            opts = "; ".join(self.curves) or "(no fitted curves)"
            raise KeyError(f"{len(hits)} curves match model={model!r}, method={method!r}, strategy={strategy!r}"
                           f"{', ' + str(by) if by else ''}; name one of: {opts}")
        return hits[0][1]

    def predict(self, flops, model: str | None = None, method: str | None = None, strategy: str | None = None,
                task: str | None = None, *, band: bool = False, **by):
        """Predicted accuracy at ``flops`` per problem (float for a scalar, array for an array).

        Warns (:class:`scaling.curves.ExtrapolationWarning`) more than 10x outside the fitted range and
        for an unconverged curve.  ``band=True`` returns (accuracy, low, high)."""
        cf = self.curve(model, method, strategy, task, **by)
        scalar = np.ndim(flops) == 0
        acc = cf.predict(flops)
        if band:
            lo, hi = cf.band(flops)
            return (acc[0], lo[0], hi[0]) if scalar else (acc, lo, hi)
        return float(acc[0]) if scalar else acc

    # ---------------------------------------------------------------- frontier
    def frontier(self, source: str = "points", budgets: Sequence[float] | None = None, **match) -> pd.DataFrame:
        """Pareto frontier: from the measured ``points`` (model, params, method, strategy, k, flops,
        accuracy ...) or from the fitted ``curves`` on a grid of ``budgets`` (best curve per budget).
        ``match`` narrows by key; pass@k (an oracle) is left out unless asked for by name."""
        if source == "points":
            pts = self.points
            for c, v in match.items():
                if v is not None:
                    pts = pts[pts[c].astype(str) == str(v)]
            pts = pts[[self._ok_strategy(s, match) for s in pts.strategy]] if len(pts) else pts
            return pareto(pts)
        if source != "curves":
            raise ValueError(f"source must be 'points' or 'curves', got {source!r}")
        curves = {lab: cf for lab, cf in self._select(**match) if self._ok_strategy(cf.key.get("strategy"), match)}
        if budgets is None:
            lo = min((cf.flops_range[0] for cf in curves.values()), default=1.0)
            hi = max((cf.fit_range[1] for cf in curves.values()), default=10.0)
            budgets = np.geomspace(lo, hi, 40)
        return curve_frontier(curves, np.asarray(budgets, float))

    # ---------------------------------------------------------------- allocation
    def _ok_strategy(self, strategy, match: Mapping) -> bool:
        return match.get("strategy") is not None or str(strategy) != "pass_at_k"

    def _candidates(self, budget: float, match: Mapping) -> list[dict]:
        cands = []
        for label, cf in self._select(**match):
            if not cf.converged or not self._ok_strategy(cf.key.get("strategy"), match):
                continue
            lo, hi = cf.fit_range
            cost = cf.extra.get("cost_per_k")
            if not cost or budget < lo * (1 - 1e-9):
                continue
            k = int(np.floor(budget / cost * (1 + 1e-9)))
            if k < 1:
                continue
            flops = k * cost
            if flops > hi * 1.0001:  # no configuration beyond the curve's (observed or extrapolated) range
                k = int(np.floor(hi / cost * (1 + 1e-9)))
                flops = k * cost
            acc = float(cf.predict([flops], warn=False)[0])
            lo_b, hi_b = cf.band([flops])
            cands.append({**cf.key, "k": k, "flops": flops, "accuracy": acc, "ci_low": float(lo_b[0]),
                          "ci_high": float(hi_b[0]), "source": "curve", "label": label})
        pts = self.points
        for c, v in match.items():
            if v is not None and c in pts:
                pts = pts[pts[c].astype(str) == str(v)]
        fitted = {lab for lab, cf in self.curves.items() if cf.converged}
        for _, r in pts[pts.flops <= budget * (1 + 1e-9)].iterrows():
            if r["label"] in fitted or not self._ok_strategy(r["strategy"], match):
                continue  # that configuration is represented by its curve
            cands.append({**{c: r[c] for c in pts.columns if c not in ("label",)}, "source": "point",
                          "label": r["label"]})
        return cands

    def optimal(self, budget: float, **match) -> dict:
        """The configuration with the highest predicted accuracy at ``budget`` FLOPs per problem.

        ``match`` narrows the candidates by key (model=, method=, strategy=, task=, or a by-column).
        pass@k is an oracle (it needs the grader at test time), so it competes only when asked for with
        ``strategy="pass_at_k"``; the same holds for :meth:`min_flops`.

        Returns a mapping: task, model, params, method, strategy (+ by), k (the most solutions the budget
        buys), flops, accuracy, ci_low, ci_high, source ('curve' or 'point'), label.  Curves are used
        only inside their fitted range (measured points plus per-problem extrapolations)."""
        cands = self._candidates(float(budget), match)
        if not cands:
            cheapest = self.points.flops.min() if len(self.points) else float("nan")
            raise ValueError(f"no configuration fits a budget of {budget:.3g} FLOPs per problem "
                             f"(the cheapest measured one costs {cheapest:.3g})")
        return max(cands, key=lambda d: (d["accuracy"], -d["flops"]))

    def min_flops(self, target: float, **match) -> dict:
        """The cheapest configuration predicted to reach accuracy ``target`` (same mapping as
        :meth:`optimal`).  Raises ValueError naming the best reachable accuracy when none does."""
        best = None
        reach = 0.0
        for label, cf in self._select(**match):
            if not cf.converged or not self._ok_strategy(cf.key.get("strategy"), match):
                continue
            cost = cf.extra.get("cost_per_k")
            lo, hi = cf.fit_range
            grid = np.geomspace(lo, hi, 400)
            acc = cf.predict(grid, warn=False)
            reach = max(reach, float(acc.max()))
            ok = np.flatnonzero(acc >= target)
            if not len(ok):
                continue
            c = grid[ok[0]]
            if ok[0] > 0:  # refine between grid points by bisection in log C
                a, b = np.log(grid[ok[0] - 1]), np.log(c)
                for _ in range(40):
                    mid = 0.5 * (a + b)
                    if cf.predict([np.exp(mid)], warn=False)[0] >= target:
                        b = mid
                    else:
                        a = mid
                c = np.exp(b)
            if cost:
                k = int(np.ceil(c / cost * (1 - 1e-9)))
                c = k * cost
            else:
                k = None
            a_c = float(cf.predict([c], warn=False)[0])
            lo_b, hi_b = cf.band([c])
            cand = {**cf.key, "k": k, "flops": float(c), "accuracy": a_c, "ci_low": float(lo_b[0]),
                    "ci_high": float(hi_b[0]), "source": "curve", "label": label}
            if best is None or cand["flops"] < best["flops"]:
                best = cand
        pts = self.points
        for c_, v in match.items():
            if v is not None and c_ in pts:
                pts = pts[pts[c_].astype(str) == str(v)]
        if match.get("strategy") is None:
            pts = pts[pts.strategy.astype(str) != "pass_at_k"]
        if len(pts):
            reach = max(reach, float(pts.accuracy.max()))
            hit = pts[pts.accuracy >= target]
            if len(hit):
                r = hit.sort_values("flops").iloc[0]
                if best is None or r.flops < best["flops"]:
                    best = {**{c_: r[c_] for c_ in pts.columns}, "source": "point"}
        if best is None:
            raise ValueError(f"no configuration is predicted to reach accuracy {target:.3f} within the fitted "
                             f"ranges; the best reachable is {reach:.3f}")
        return best

    # ---------------------------------------------------------------- size law
    def size_law(self, strategy: str | None = None, method: str = "sample", task: str | None = None,
                 n_budgets: int = 60, level: float = 0.95) -> dict | None:
        """Compute-optimal model size: for each budget on a log grid, the size whose fitted curve is best
        (budgets where the smallest or the largest size wins are censored: only the last budget won by the
        smallest and the first won by the largest are kept); then the OLS
        regression ``log10 C = slope * log10 N + intercept`` (as in the paper: 1.19, 2.03 on
        Pythia/GSM8K), also stated as ``N_opt = coef * C^a`` with ``a = 1/slope``.  Returns None when fewer than three sizes are ever optimal."""
        import statsmodels.api as sm

        strategies = [strategy] if strategy else list(SIZE_LAW_STRATEGIES)
        for s in strategies:
            cs = {lab: cf for lab, cf in self._select(strategy=s, method=method, task=task) if cf.converged}
            if len({cf.key.get("params") for cf in cs.values()}) >= 3:
                break
        else:
            return None
        lo = min(cf.flops_range[0] for cf in cs.values())
        hi = max(cf.fit_range[1] for cf in cs.values())
        budgets = np.geomspace(lo, hi, n_budgets)
        fr = curve_frontier(cs, budgets)
        fr = fr.dropna(subset=["accuracy"]).reset_index(drop=True)
        if fr["params"].nunique() < 3:
            return None  # two sizes give one crossover: no line can be fitted
        # the smallest and largest sizes are censored (a smaller/larger model might win there): keep only
        # the last budget where the smallest wins and the first where the largest wins
        p = fr["params"].to_numpy(float)
        lo_n, hi_n = p.min(), p.max()
        keep = (p > lo_n) & (p < hi_n)
        if (p == lo_n).any():
            keep[np.flatnonzero(p == lo_n)[-1]] = True
        if (p == hi_n).any():
            keep[np.flatnonzero(p == hi_n)[0]] = True
        fr = fr[keep]
        x = np.log10(fr["params"].to_numpy(float))
        y = np.log10(fr["budget"].to_numpy(float))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = sm.OLS(y, sm.add_constant(x)).fit()
            ci = res.conf_int(alpha=1 - level) if res.df_resid > 0 else np.full((2, 2), np.nan)
        slope, icpt = float(res.params[1]), float(res.params[0])
        return {"strategy": s, "method": method, "slope": slope, "intercept": icpt,
                "slope_ci": [float(ci[1, 0]), float(ci[1, 1])], "intercept_ci": [float(ci[0, 0]), float(ci[0, 1])],
                "exponent": 1.0 / slope if slope else float("nan"),
                "coefficient": 10 ** (-icpt / slope) if slope else float("nan"), "n_budgets": int(len(fr)),
                "r2": float(res.rsquared),
                "optimal": fr[["budget", "model", "params", "accuracy"]].to_dict(orient="list")}

    # ---------------------------------------------------------------- reporting
    def table(self) -> pd.DataFrame:
        """One row per curve: key, family, converged, asymptote (+ interval), plug-in limit, ranges."""
        rows = []
        for label, cf in self.curves.items():
            lo, hi = cf.asymptote_interval()
            rows.append({**cf.key, "label": label, "family": cf.family, "converged": cf.converged,
                         "message": cf.message, "asymptote": cf.asymptote(), "asym_low": lo, "asym_high": hi,
                         "plug_in_limit": cf.limit, "flops_min": cf.flops_range[0], "flops_max": cf.flops_range[1],
                         "fit_max": cf.fit_range[1], **{f"p_{k}": v for k, v in cf.params.items()}})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        lines = []
        tasks = sorted({str(cf.key.get("task")) for cf in self.curves.values()} |
                       set(self.points["task"].astype(str).unique() if len(self.points) else []))
        lines.append(f"Inference scaling laws ({FORMAT} v{FORMAT_VERSION}); compute: "
                     f"{self.meta.get('compute', '2·N·T_gen')}")
        for task in tasks:
            lines.append(f"\n== task {task} ==")
            tab = self.table()
            tab = tab[tab.task.astype(str) == task] if len(tab) else tab
            lines.append(f"{'curve':<56} {'family':<18} {'asymptote (95% CI)':<24} {'plug-in':>8}  fit")
            for _, r in tab.iterrows():
                asym = f"{r.asymptote:.3f} ({r.asym_low:.3f}-{r.asym_high:.3f})" if np.isfinite(r.asym_low) \
                    else f"{r.asymptote:.3f}"
                lim = f"{r.plug_in_limit:.3f}" if r.plug_in_limit is not None and np.isfinite(r.plug_in_limit) \
                    else "-"
                lines.append(f"{r.label[:56]:<56} {r.family:<18} {asym:<24} {lim:>8}  "
                             f"{'ok' if r.converged else 'NOT CONVERGED: ' + r.message}")
            pts = self.points[self.points.task.astype(str) == task]
            if len(pts):
                lines.append("best configuration per budget decade (measured or fitted):")
                lo, hi = pts.flops.min(), max([cf.fit_range[1] for cf in self.curves.values()
                                               if str(cf.key.get("task")) == task] + [pts.flops.max()])
                for e in range(int(np.ceil(np.log10(lo))), int(np.floor(np.log10(hi))) + 1):
                    try:
                        o = self.optimal(10.0 ** e, task=task)
                    except ValueError:
                        continue
                    band = f" [{o['ci_low']:.3f}, {o['ci_high']:.3f}]" if np.isfinite(o.get("ci_low", np.nan)) \
                        else ""
                    lines.append(f"  1e{e:<3d} FLOPs: {o['model']} / {o['method']} / {o['strategy']} k={o['k']}  "
                                 f"acc {o['accuracy']:.3f}{band} ({o['source']})")
            sl = self.size_law(task=task)
            if sl:
                lines.append(f"size law ({sl['strategy']}, {sl['method']}): log10 C = {sl['slope']:.2f} log10 N "
                             f"{sl['intercept']:+.2f}  (slope 95% CI {sl['slope_ci'][0]:.2f}..{sl['slope_ci'][1]:.2f});"
                             f"  N_opt = {sl['coefficient']:.3g} * C^{sl['exponent']:.2f}   "
                             "[paper, Pythia/GSM8K: 1.19, 2.03; N_opt = 0.0197 C^0.84]")
            else:
                lines.append("size law: needs fitted curves of at least three model sizes that each win at some budget")
        bad = [lab for lab, cf in self.curves.items() if not cf.converged]
        if bad:
            lines.append(f"\n{len(bad)} curve(s) did not converge and are not used: {', '.join(bad)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Laws({len(self.curves)} curves, {len(self.points)} points)"

    # ---------------------------------------------------------------- files
    def to_dict(self) -> dict:
        payload = {
            "curves": [cf.to_dict() | {"label": lab} for lab, cf in self.curves.items()],
            "points": self.points.to_dict(orient="list"),
            "limits": None if self.limits is None else self.limits.to_dict(orient="list"),
            "meta": self.meta,
            "size_law": {t: self.size_law(task=t) for t in sorted({str(cf.key.get("task"))
                                                                   for cf in self.curves.values()})},
        }
        return _jsonable(payload)

    def save(self, path: str | os.PathLike) -> Path:
        """Write versioned JSON: format, version, package version, creation time, a SHA-256 of the
        payload (checked on load), and the payload (curves with parameters, bootstrap draws, points,
        data ranges, compute convention, input file hashes)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = self.to_dict()
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        doc = {"format": FORMAT, "version": FORMAT_VERSION, "package_version": _package_version(),
               "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "sha256": hashlib.sha256(body.encode()).hexdigest(), "payload": payload}
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False))
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, payload: dict) -> Laws:
        curves = {}
        for d in payload["curves"]:
            cf = CurveFit.from_dict(d)
            curves[d["label"]] = cf
        pts = pd.DataFrame(payload["points"])
        lim = None if payload.get("limits") is None else pd.DataFrame(payload["limits"])
        return cls(curves, pts, lim, payload.get("meta", {}))


def load_law(path: str | os.PathLike) -> Laws:
    """Read a laws file written by :meth:`Laws.save`.

    Raises :class:`LawFileError` when the file is not JSON, not a laws file, of an unknown format
    version, or damaged (its payload does not match the stored SHA-256)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise LawFileError(f"{path}: no such laws file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LawFileError(f"{path}: damaged laws file (not valid JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LawFileError(f"{path}: not an {FORMAT} file (format field {doc.get('format') if isinstance(doc, dict) else None!r})")
    if doc.get("version") != FORMAT_VERSION:
        raise LawFileError(f"{path}: unknown laws format version {doc.get('version')!r}; this package "
                           f"({_package_version()}) reads version {FORMAT_VERSION}")
    payload = doc.get("payload")
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    if hashlib.sha256(body.encode()).hexdigest() != doc.get("sha256"):
        raise LawFileError(f"{path}: damaged laws file (payload does not match its SHA-256 checksum)")
    try:
        return Laws.from_dict(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise LawFileError(f"{path}: damaged laws file ({type(exc).__name__}: {exc})") from None


def file_hashes(paths: Sequence[str | os.PathLike]) -> dict[str, str]:
    """SHA-256 of each input file (recorded in saved laws)."""
    out = {}
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[str(p)] = h.hexdigest()
    return out


def fit(curves: pd.DataFrame, *, per_problem: pd.DataFrame | None = None, limits: pd.DataFrame | None = None,
        extrapolated: pd.DataFrame | None = None, families: Sequence[str] | None = None, n_boot: int = 200,
        seed: int = 0, min_points: int = 3, compute: str | None = None, sources: Mapping[str, str] | None = None,
        progress: bool = False, limits_per_problem: pd.DataFrame | None = None) -> Laws:
    """Fit a saturation curve to every (task, model, method, strategy[, reward_agg][, by]) of ``curves``.

    Parameters
    ----------
    curves : the table of :func:`scaling.evaluate` (task, model, params, method, strategy, k, flops,
        accuracy, ci_low, ci_high, n_problems ...).
    per_problem : the same evaluation with ``per_problem=True``; enables the bootstrap over problems
        (bands, parameter intervals).  Without it there are no bands.
    limits : :func:`scaling.limits` table; its plug-in ceilings anchor the ``power_floor_limit``
        family of majority and weighted-majority curves and are reported beside the fitted asymptotes.
    extrapolated : per-problem predictions beyond the cached k (:func:`scaling.extrapolate.extrapolated_table`),
        added to the fit (not to the held-out choice of family) as points of source ``extrapolated``.
    limits_per_problem : ``scaling.limits(samples, per_problem=True)``; with ``per_problem`` it lets the
        bootstrap resample the plug-in limit together with the curve.
    families : restrict the candidate curve families (default by strategy, see :mod:`scaling.curves`).
    n_boot : bootstrap replicates per curve (needs ``per_problem``).
    min_points : a configuration with fewer measured points keeps its points but gets no curve.
    compute, sources : recorded in the saved file (compute convention, input file -> SHA-256).
    """
    need = {"task", "model", "method", "strategy", "k", "flops", "accuracy"}
    missing = need - set(curves.columns)
    if missing:
        raise ValueError(f"fit: the curves table lacks column(s) {sorted(missing)}; pass scaling.evaluate(...)")
    if curves.empty:
        raise ValueError("fit: the curves table is empty")
    keys = _key_cols(curves)
    pts = curves.copy()
    pts["label"] = [_label(dict(zip(keys, r, strict=True))) for r in pts[keys].itertuples(index=False)]
    if "ci_low" not in pts:
        pts["ci_low"] = np.nan
        pts["ci_high"] = np.nan
    pp_groups = {}
    if per_problem is not None:
        pkeys = [c for c in keys if c in per_problem.columns]
        for g, d in per_problem.groupby(pkeys, dropna=False, sort=False):
            pp_groups[g if isinstance(g, tuple) else (g,)] = d
    ex_groups = {}
    if extrapolated is not None and len(extrapolated):
        ekeys = [c for c in keys if c in extrapolated.columns]
        for g, d in extrapolated.groupby(ekeys, dropna=False, sort=False):
            ex_groups[g if isinstance(g, tuple) else (g,)] = d
    lim_map = {}
    if limits is not None and len(limits):
        for _, r in limits.iterrows():
            lim_map[(str(r["task"]), str(r["model"]), str(r["method"]), str(r["strategy"]))] = float(r["limit"])
    groups = list(pts.groupby(keys, dropna=False, sort=True))
    it = groups
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(groups, desc="fitting curves", unit="curve")
    out: dict[str, CurveFit] = {}
    for g, d in it:
        g = g if isinstance(g, tuple) else (g,)
        key = _clean_key(dict(zip(keys, g, strict=True)))
        d = d.sort_values("flops")
        if d["k"].nunique() < min_points:
            continue
        P = int(d["n_problems"].max()) if "n_problems" in d else 0
        flops = d.flops.to_numpy(float)
        acc = d.accuracy.to_numpy(float)
        se = binomial_se(acc, P) if P else None
        if "mc_se" in d:
            mc = d["mc_se"].to_numpy(float)
            if se is not None:
                se = np.sqrt(se ** 2 + np.nan_to_num(mc) ** 2)
        observed = np.ones(len(acc), bool)
        V = F = None
        gkey = tuple(g[i] for i, c in enumerate(keys) if per_problem is not None and c in per_problem.columns)
        if gkey in pp_groups:
            dp = pp_groups[gkey]
            V = dp.pivot_table(index="k", columns="problem_id", values="accuracy").reindex(d.k.to_numpy())
            F = dp.pivot_table(index="k", columns="problem_id", values="flops").reindex(d.k.to_numpy())
        ekey = tuple(g[i] for i, c in enumerate(keys) if extrapolated is not None and c in extrapolated.columns)
        if ekey in ex_groups:
            de = ex_groups[ekey]
            ev = de.pivot_table(index="k", columns="problem_id", values="accuracy")
            efl = de.pivot_table(index="k", columns="problem_id", values="flops")
            e_acc = ev.mean(axis=1).to_numpy()
            e_se = np.sqrt(binomial_se(e_acc, ev.shape[1]) ** 2 + 0.01 ** 2)  # + model uncertainty floor
            flops = np.concatenate([flops, efl.mean(axis=1).to_numpy()])
            acc = np.concatenate([acc, e_acc])
            se = np.concatenate([se if se is not None else binomial_se(d.accuracy.to_numpy(float), P), e_se])
            observed = np.concatenate([observed, np.zeros(len(e_acc), bool)])
            if V is not None:
                V = pd.concat([V, ev.reindex(columns=V.columns)])
                F = pd.concat([F, efl.reindex(columns=F.columns)])
        per = None
        if V is not None and not V.isna().any().any() and not F.isna().any().any():
            per = (V.to_numpy(float), F.to_numpy(float))
        lim = lim_map.get((str(key.get("task")), str(key.get("model")), str(key.get("method")),
                           str(key.get("strategy"))))
        lim_pp = None
        if per is not None and limits_per_problem is not None and lim is not None:
            lp = limits_per_problem
            sel = lp[(lp.task.astype(str) == str(key.get("task"))) & (lp.model.astype(str) == str(key.get("model")))
                     & (lp.method.astype(str) == str(key.get("method")))
                     & (lp.strategy.astype(str) == str(key.get("strategy")))]
            if len(sel):
                s_ = sel.groupby("problem_id")["limit"].mean().reindex(V.columns)
                if not s_.isna().any():
                    lim_pp = s_.to_numpy(float)
        cf = fit_curve(flops, acc, se=se, n_problems=P or None, families=families, strategy=str(key["strategy"]),
                       limit=lim, key=key, per_problem=per, observed=observed, n_boot=n_boot if per else 0,
                       seed=seed, limit_per_problem=lim_pp)
        ks = d.k.to_numpy(float)
        cf.extra["cost_per_k"] = float(np.median(d.flops.to_numpy(float) / ks))
        cf.extra["k_max"] = int(ks.max())
        out[_label(key)] = cf
    meta = {"compute": compute or "2·N·T_gen (paper)", "sources": dict(sources or {}),
            "package_version": _package_version(), "n_boot": int(n_boot), "seed": int(seed),
            "data_range": {"flops": [float(pts.flops.min()), float(pts.flops.max())]}}
    keep = [c for c in keys + ["label", "k", "flops", "accuracy", "ci_low", "ci_high"] if c in pts]
    return Laws(out, pts[keep].reset_index(drop=True), limits, meta)

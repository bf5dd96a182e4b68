"""Fitted inference scaling laws as an object and as a versioned JSON file.

:meth:`scaling.Evaluation.fit` (:mod:`scaling.fitting`) turns an evaluation into a :class:`Laws` object: one saturation curve per (task, model, method, strategy[, by values][, reward_agg])
(see :mod:`scaling.curves`), fitted to the measured points plus the per-problem extrapolations, anchored
at the plug-in voting limits, with a bootstrap over problems; the measured points; the limits.  ``Laws``
predicts, saves and summarises; the Pareto frontier and the compute-optimal size are in
:mod:`scaling.frontier`, the best configuration at a budget in :mod:`scaling.allocation` (the methods
below call them).  ``Laws.write(path)`` writes a laws file (JSON); :func:`read_laws` reads it back and
refuses damaged files or unknown format versions.  ``python -m scaling.fit DATA_DIR`` runs exactly this
pipeline.  Like every results object (:mod:`scaling.results`) it has ``select``, ``summary()``,
``to_frame()``, ``conf_int(level)``, ``predict(..., interval=True)`` and an HTML view in Jupyter.

>>> import scaling
>>> samples = scaling.read_samples("data/samples/arith-sub100/arith-neox-113k-sample.parquet")
>>> laws = scaling.evaluate(samples, strategies=["majority"], extrapolate=(), n_boot=50).fit()
>>> laws.optimal(1e8).strategy
'majority'
>>> len(laws.select(model="arith-neox-113k").curves)
1
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

from . import allocation, frontier
from ._version import __version__
from .curves import CurveFit
from .results import Results, check_level
from .schema import match_rows

__all__ = ["Laws", "read_laws", "file_hashes", "LawFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "inference-scaling-laws"
FORMAT_VERSION = 1
PAPER_SIZE_LAW = "[paper, Pythia/GSM8K: 1.19, 2.03; N_opt = 0.0197 C^0.84]"


class LawFileError(ValueError):
    """A laws file is damaged, of an unknown format version, or not a laws file."""


def _package_version() -> str:
    return str(__version__)


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


def _label(key: Mapping, with_task: bool = False) -> str:
    """'model / method / strategy[ / by=value]', led by the task when a fit spans several tasks."""
    parts = [str(key.get("task"))] if with_task else []
    parts += [str(key.get(c)) for c in ("model", "method", "strategy") if c in key]
    parts += [f"{c}={v}" for c, v in key.items() if c not in ("task", "model", "params", "method", "strategy")
              and v is not None and not (isinstance(v, float) and math.isnan(v))]
    return " / ".join(parts)


def _clean_key(key: Mapping) -> dict:
    return {c: _jsonable(None if isinstance(v, float) and math.isnan(v) else v) for c, v in key.items()}


def _matches(value, wanted) -> bool:
    return wanted is None or str(value) == str(wanted)


class Laws(Results):
    """Fitted curves and measured points of one or more tasks: prediction, allocation, saving, summary.

    Attributes: ``curves`` (label -> :class:`scaling.curves.CurveFit`), ``points`` (every measured
    configuration: key columns, label, k, flops, accuracy, ci_low, ci_high), ``limits`` (plug-in voting
    ceilings, or None), ``meta`` (compute convention, evaluation settings, sources, data range, versions).
    """

    def __init__(self, curves: dict[str, CurveFit], points: pd.DataFrame, limits: pd.DataFrame | None = None,
                 meta: dict | None = None):
        self.curves = curves
        self.points = points
        self.limits = limits
        self.meta = dict(meta or {})

    # ---------------------------------------------------------------- selection
    def _curves_matching(self, match: Mapping) -> dict[str, CurveFit]:
        return {label: cf for label, cf in self.curves.items()
                if all(_matches(cf.key.get(c), v) for c, v in match.items())}

    def select(self, **match) -> Laws:
        """The laws of the configurations matching ``match`` (task=, model=, method=, strategy=, or a
        by-column; values compared as strings; None matches anything): their curves, measured points
        and limits, as a :class:`Laws` (the same verb as :meth:`scaling.Evaluation.select`).  A curve
        lacking a matched key does not match; points and limits lacking that column keep their rows
        (:func:`scaling.schema.match_rows`)."""
        return Laws(self._curves_matching(match), match_rows(self.points, match),
                    None if self.limits is None else match_rows(self.limits, match), self.meta)

    def curve(self, model: str | None = None, method: str | None = None, strategy: str | None = None,
              task: str | None = None, **by) -> CurveFit:
        """The one curve matching the given key values (KeyError if none or several match)."""
        hits = list(self._curves_matching(dict(model=model, method=method, strategy=strategy, task=task, **by)).values())
        if len(hits) != 1:
            opts = "; ".join(self.curves) or "(no fitted curves)"
            raise KeyError(f"{len(hits)} curves match model={model!r}, method={method!r}, strategy={strategy!r}"
                           f"{', ' + str(by) if by else ''}; name one of: {opts}")
        return hits[0]

    def predict(self, flops, model: str | None = None, method: str | None = None, strategy: str | None = None,
                task: str | None = None, *, interval: bool = False, level: float = 0.95, **by):
        """Predicted accuracy at ``flops`` per problem (float for a scalar, array for an array).

        Warns (:class:`scaling.curves.ExtrapolationWarning`) more than 10x outside the fitted range and
        for an unconverged curve.  ``interval=True`` returns (accuracy, low, high), the bootstrap band."""
        cf = self.curve(model, method, strategy, task, **by)
        scalar = np.ndim(flops) == 0
        out = cf.predict(flops, interval=interval, level=level)
        if interval:
            return tuple(float(a[0]) for a in out) if scalar else out
        return float(out[0]) if scalar else out

    # ---------------------------------------------------------------- allocation and frontier
    def frontier(self, source: str = "points", budgets: Sequence[float] | None = None, **match) -> pd.DataFrame:
        """Pareto frontier from the measured points or the fitted curves (:func:`scaling.frontier.frontier`)."""
        return frontier.frontier(self, source, budgets, **match)

    def optimal(self, budget: float, **match) -> allocation.Allocation:
        """Best configuration at ``budget`` FLOPs per problem, with its band (:func:`scaling.allocation.optimal`)."""
        return allocation.optimal(self, budget, **match)

    def min_flops(self, target: float, **match) -> allocation.Allocation:
        """Cheapest configuration predicted to reach ``target`` (:func:`scaling.allocation.min_flops`)."""
        return allocation.min_flops(self, target, **match)

    def size_law(self, strategy: str | None = None, method: str = "sample", task: str | None = None,
                 n_budgets: int = 60, level: float = 0.95) -> frontier.SizeLaw | None:
        """Compute-optimal model size against budget (:func:`scaling.frontier.size_law`)."""
        return frontier.size_law(self, strategy, method, task, n_budgets, level)

    # ---------------------------------------------------------------- reporting
    def to_frame(self) -> pd.DataFrame:
        """One row per curve: key, family, converged, asymptote (+ interval), plug-in limit, ranges."""
        rows = []
        for label, cf in self.curves.items():
            lo, hi = cf.asymptote_interval()
            rows.append({**cf.key, "label": label, "family": cf.family, "converged": cf.converged,
                         "message": cf.message, "asymptote": cf.asymptote(), "asym_low": lo, "asym_high": hi,
                         "plug_in_limit": cf.limit, "flops_min": cf.flops_range[0], "flops_max": cf.flops_range[1],
                         "fit_max": cf.fit_range[1], **{f"p_{k}": v for k, v in cf.params.items()}})
        return pd.DataFrame(rows)

    def _summary_task(self, task: str) -> list[str]:
        lines = [f"\n== task {task} ==",
                 f"{'curve':<56} {'family':<18} {'asymptote (95% CI)':<24} {'plug-in':>8}  fit"]
        tab = self.to_frame()
        for _, r in (tab[tab.task.astype(str) == task] if len(tab) else tab).iterrows():
            asym = f"{r.asymptote:.3f} ({r.asym_low:.3f}-{r.asym_high:.3f})" if np.isfinite(r.asym_low) \
                else f"{r.asymptote:.3f}"
            lim = f"{r.plug_in_limit:.3f}" if r.plug_in_limit is not None and np.isfinite(r.plug_in_limit) else "-"
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
                band = f" [{o.ci_low:.3f}, {o.ci_high:.3f}]" if np.isfinite(o.ci_low) else ""
                lines.append(f"  1e{e:<3d} FLOPs: {o.model} / {o.method} / {o.strategy} k={o.k}  "
                             f"acc {o.accuracy:.3f}{band} ({o.source})")
        sl = self.size_law(task=task)
        if sl:
            lines.append(f"size law ({sl.strategy}, {sl.method}): log10 C = {sl.slope:.2f} log10 N "
                         f"{sl.intercept:+.2f}  (slope 95% CI {sl.slope_ci[0]:.2f}..{sl.slope_ci[1]:.2f});"
                         f"  N_opt = {sl.coefficient:.3g} * C^{sl.exponent:.2f}   {PAPER_SIZE_LAW}")
        else:
            lines.append("size law: needs fitted curves of at least three model sizes that each win at some budget")
        return lines

    def summary(self) -> str:
        """Per task: every curve (family, asymptote with its interval, plug-in limit, convergence), the best
        configuration per budget decade with its band, and the compute-optimal size law."""
        tasks = sorted({str(cf.key.get("task")) for cf in self.curves.values()} |
                       set(self.points["task"].astype(str).unique() if len(self.points) else []))
        lines = [f"Inference scaling laws ({FORMAT} v{FORMAT_VERSION}); compute: "
                 f"{self.meta.get('compute', '2·N·T_gen')}"]
        for task in tasks:
            lines += self._summary_task(task)
        bad = [lab for lab, cf in self.curves.items() if not cf.converged]
        if bad:
            lines.append(f"\n{len(bad)} curve(s) did not converge and are not used: {', '.join(bad)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Laws({len(self.curves)} curves, {len(self.points)} points)"

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Every curve's parameter and asymptote intervals at ``level`` (:meth:`CurveFit.conf_int`), one
        row per (curve, parameter), led by the curve's label."""
        level = check_level(level)
        frames = [cf.conf_int(level).reset_index().assign(label=label) for label, cf in self.curves.items()]
        if not frames:
            return pd.DataFrame(columns=["label", "param", "estimate", "ci_low", "ci_high"])
        out = pd.concat(frames, ignore_index=True)
        return out[["label"] + [c for c in out.columns if c != "label"]]

    # ---------------------------------------------------------------- files
    def to_dict(self) -> dict:
        payload = {
            "curves": [cf.to_dict() | {"label": lab} for lab, cf in self.curves.items()],
            "points": self.points.to_dict(orient="list"),
            "limits": None if self.limits is None else self.limits.to_dict(orient="list"),
            "meta": self.meta,
            "size_law": {t: _law_dict(self.size_law(task=t)) for t in sorted({str(cf.key.get("task"))
                                                                              for cf in self.curves.values()})},
        }
        return _jsonable(payload)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the laws file (read it with :func:`read_laws`): versioned JSON: format, version, package version, creation time, a SHA-256 of the
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


def _law_dict(law: frontier.SizeLaw | None) -> dict | None:
    return None if law is None else law.to_dict()


def read_laws(path: str | os.PathLike) -> Laws:
    """Read a laws file written by :meth:`Laws.write` (or ``python -m scaling.fit``).

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

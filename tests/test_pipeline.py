"""One pipeline: ``python -m scaling.fit DATA`` and ``scaling.evaluate(samples).fit()`` give the same laws.

Every prediction a saved laws file makes -- each curve's parameters, bootstrap draws, predictions and
bands, the measured points with their intervals, the plug-in limits, the best configuration per budget
decade, the cheapest configuration for a target and the size law -- must be equal, bit for bit, to the
library path's on the same data.  The shipped data (``data/``: the arithmetic family, its tree-search
subset and the Qwen2.5-Math reference table) is where the two used to disagree (by 0.02 in predicted
accuracy on the reference table).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scaling
from scaling.fit import main
from scaling.synthetic import family_table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
KEY = ("task", "model", "method", "strategy")


def _key(cf) -> dict:
    return {c: v for c, v in cf.key.items() if c not in ("params", "reward_agg")}


def _same_frame(saved: pd.DataFrame, lib: pd.DataFrame) -> None:
    """Equal values (exactly); column order and dtypes may differ (a laws file stores sorted lists)."""
    pd.testing.assert_frame_equal(saved.reset_index(drop=True), lib.reset_index(drop=True), check_dtype=False,
                                  check_like=True, check_exact=True)


def _same_curve(saved, lib) -> None:
    assert (saved.family, saved.converged, saved.c_ref, saved.limit) == (lib.family, lib.converged, lib.c_ref, lib.limit)
    assert saved.params == lib.params
    if saved.draws is None:
        assert lib.draws is None
    else:
        np.testing.assert_array_equal(saved.draws, lib.draws)
    _same_frame(saved.points, lib.points)
    grid = np.geomspace(saved.fit_range[0] / 2, saved.fit_range[1] * 2, 25)
    for a, b in zip(saved.predict(grid, interval=True, warn=False), lib.predict(grid, interval=True, warn=False),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert saved.extra.get("cost_per_k") == lib.extra.get("cost_per_k")


def _same_laws(saved: scaling.Laws, lib: scaling.Laws, task: str) -> None:
    """Everything ``saved`` (one task's file) predicts equals what the library's ``lib`` predicts."""
    lib_curves = [cf for cf in lib.curves.values() if str(cf.key["task"]) == task]
    assert len(saved.curves) == len(lib_curves) > 0
    for cf in saved.curves.values():
        _same_curve(cf, lib.curve(**_key(cf)))
    cols = [c for c in saved.points.columns if c != "label"]
    lib_pts = lib.points[lib.points.task.astype(str) == task][cols].reset_index(drop=True)
    _same_frame(saved.points[cols], lib_pts)
    lim = lib.limits[lib.limits.task.astype(str) == task].reset_index(drop=True)
    _same_frame(saved.limits, lim)
    a, b = saved.size_law(task=task), lib.size_law(task=task)
    assert (a is None and b is None) or a.to_dict() == b.to_dict()
    lo, hi = saved.points.flops.min(), max(cf.fit_range[1] for cf in saved.curves.values())
    for budget in np.geomspace(lo, hi, 9):
        a, b = saved.optimal(budget), lib.optimal(budget, task=task)
        assert {**a.to_dict(), "label": 0} == {**b.to_dict(), "label": 0}, budget
    observed = saved.points[saved.points.strategy != "pass_at_k"].accuracy
    for target in np.quantile(observed, [0.25, 0.5, 0.9]):
        a, b = saved.min_flops(target), lib.min_flops(target, task=task)
        assert {**a.to_dict(), "label": 0} == {**b.to_dict(), "label": 0}, target


def _both_ways(data: Path, out: Path, n_boot: int, *extra: str) -> tuple[list[Path], scaling.Laws]:
    assert main([str(data), "--out", str(out), "--figures", "", "--quiet", "--n-boot", str(n_boot), *extra]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        laws = scaling.evaluate(scaling.read_samples(data), n_boot=n_boot).fit(n_boot=n_boot)
    return sorted(out.glob("*.json")), laws


def test_command_and_library_agree_on_a_two_task_family(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for task, seed in (("toy", 0), ("toy2", 1)):
        t = family_table({"a-1b": 1e9, "b-4b": 4e9, "c-16b": 1.6e10}, n_problems=40, n_samples=16, task=task,
                         seed=seed)
        scaling.write_samples(t, data / f"{task}.parquet")
    files, laws = _both_ways(data, tmp_path / "fits", 30)
    assert [f.stem for f in files] == ["toy", "toy2"]
    for f in files:
        _same_laws(scaling.read_laws(f), laws, f.stem)


@pytest.mark.slow
def test_shipped_data_gives_identical_laws_both_ways(tmp_path):
    files, laws = _both_ways(DATA, tmp_path / "fits", 100)
    assert {f.stem for f in files} == {str(cf.key["task"]) for cf in laws.curves.values()} == \
        {"arith", "arith-sub100", "math100"}
    for f in files:
        saved = scaling.read_laws(f)
        _same_laws(saved, laws, f.stem)
    # the reference table's voting curves are anchored at their plug-in limits and carry bands by both paths
    ref = [cf for cf in laws.curves.values() if cf.key["task"] == "math100" and cf.key["strategy"] == "majority"]
    assert ref and all(cf.draws is not None and cf.limit is not None for cf in ref)
    ref_flops = laws.points[laws.points.task == "math100"].flops
    best = laws.optimal(ref_flops.median(), task="math100")
    assert best.source == "curve" and np.isfinite(best.ci_low) and best.ci_low <= best.accuracy

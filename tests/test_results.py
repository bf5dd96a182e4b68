"""The results vocabulary (scaling.results) on every results object: summary(), to_frame(), conf_int(level),
predict(..., interval=True) where it predicts, an HTML view; select(**key) returns the same type; level is
checked the same way everywhere.  Values are checked against what each object already reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling import Evaluation, Laws, evaluate
from scaling.allocation import Allocation
from scaling.curves import CurveFit
from scaling.fitlaw import LawFit, fit_law
from scaling.frontier import SizeLaw
from scaling.results import Results, check_level
from scaling.synthetic import family_table


@pytest.fixture(scope="module")
def ev() -> Evaluation:
    table = family_table({"a": 1e8, "b": 1e9, "c": 1e10, "d": 1e11}, n_problems=60, n_samples=32, seed=4)
    return evaluate(table, strategies=["majority", "pass_at_k"], extrapolate=(), extrapolate_to=128, n_boot=100)


@pytest.fixture(scope="module")
def laws(ev) -> Laws:
    return ev.fit(n_boot=40)


def _shared(obj: Results) -> None:
    text = obj.summary()
    assert isinstance(text, str) and text.strip()
    frame = obj.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame)
    html = obj._repr_html_()
    assert html.startswith("<p><b>") and "<table" in html


def test_every_results_object_shares_the_verbs(ev, laws):
    cf = next(c for c in laws.curves.values() if c.converged and c.draws is not None)
    best = laws.optimal(float(laws.points.flops.median()))
    sl = laws.size_law()
    lf = fit_law(pd.DataFrame({"x": np.geomspace(1, 100, 20), "y": 2.0 * np.geomspace(1, 100, 20) ** -0.5}),
                 "a * x**-b", x="x", y="y", bootstrap=20, seed=1)
    objs = [ev, laws, cf, lf, best, sl]
    assert [type(o) for o in objs] == [Evaluation, Laws, CurveFit, LawFit, Allocation, SizeLaw]
    for o in objs:
        _shared(o)


def test_conf_int_at_another_level_nests(ev, laws):
    c95, c50 = ev.conf_int(), ev.conf_int(0.5)
    assert (c95[["k", "accuracy"]].to_numpy() == c50[["k", "accuracy"]].to_numpy()).all()
    assert (c50.ci_low >= c95.ci_low - 1e-12).all() and (c50.ci_high <= c95.ci_high + 1e-12).all()
    assert np.allclose(c95.ci_low, ev.curves.ci_low, equal_nan=True)
    lc = laws.conf_int(0.8)
    assert {"label", "param", "estimate", "ci_low", "ci_high"} <= set(lc.columns)
    best = laws.optimal(float(laws.points.flops.median()))
    if best.source == "curve":
        lo, hi = best.conf_int(0.5)
        assert best.ci_low <= lo + 1e-12 and hi <= best.ci_high + 1e-12


def test_predict_with_interval(ev, laws):
    key = dict(model="c", method="sample", strategy="majority")
    acc, lo, hi = ev.predict(8, interval=True, **key)
    row = ev.curves.query("model == 'c' and strategy == 'majority' and k == 8").iloc[0]
    assert (acc, lo, hi) == (row.accuracy, row.ci_low, row.ci_high)
    far = ev.predict(128, model="c", method="sample", strategy="pass_at_k")      # extrapolated to the horizon
    ex = ev.extrapolated_summary.query("model == 'c' and strategy == 'pass_at_k' and k == 128").accuracy.iloc[0]
    assert far == ex
    with pytest.raises(KeyError, match="extrapolate_to"):
        ev.predict(4096, **key)
    with pytest.raises(KeyError, match="several configurations"):
        ev.predict(8, model="c")
    a, lo, hi = laws.predict(float(row.flops), interval=True, **key)
    assert lo <= a <= hi
    sl = laws.size_law()
    if sl is not None:
        n, lo, hi = sl.predict(float(np.median(sl.optimal.budget)), interval=True)
        assert lo <= n <= hi
        assert sl.predict(np.array([1e12, 1e13])).shape == (2,)


def test_select_returns_the_same_type(ev, laws):
    sub = ev.select(model="b")
    assert isinstance(sub, Evaluation) and set(sub.curves.model) == {"b"}
    lsub = laws.select(model="b", strategy="majority")
    assert isinstance(lsub, Laws) and lsub.curves and all(
        cf.key["model"] == "b" and cf.key["strategy"] == "majority" for cf in lsub.curves.values())
    assert set(lsub.points.model) == {"b"} and set(lsub.points.strategy) == {"majority"}
    assert lsub.curve(model="b", method="sample", strategy="majority") is laws.curve(model="b", method="sample",
                                                                                   strategy="majority")


def test_allocation_answers_by_attribute(laws):
    best = laws.optimal(float(laws.points.flops.median()))
    d = best.to_dict()
    assert best.model == d["model"] and best.k == d["k"] and best.accuracy == d["accuracy"]
    assert best.ci_low <= best.accuracy <= best.ci_high and best.flops > 0
    assert best.strategy != "pass_at_k"
    with pytest.raises(AttributeError):
        best.not_a_field  # noqa: B018
    assert "best at" in best.summary() and best.model in best.summary()


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "high", None])
def test_level_is_checked_the_same_way(ev, bad):
    with pytest.raises(ValueError, match="level must be"):
        check_level(bad)
    with pytest.raises(ValueError, match="level must be"):
        ev.conf_int(bad) if bad is not None else check_level(bad)

"""scaling.evaluate: its boundary, one matrix build, the Evaluation's tables and their one bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scaling
import scaling.evaluation as evaluation_module
import scaling.matrix as matrix_module
import scaling.workers as workers_module
from scaling.evaluation import Evaluation
from scaling.synthetic import family_table


@pytest.fixture(scope="module")
def samples():
    return scaling.validate(family_table({"a-1b": 1e9, "b-4b": 4e9}, n_problems=30, n_samples=8, task="toy"))


@pytest.fixture(scope="module")
def ev(samples):
    return scaling.evaluate(samples, n_boot=200)


# ------------------------------------------------------------------ the boundary
@pytest.mark.parametrize("column", ["correct", "gen_tokens"])
def test_a_table_without_a_contract_column_is_named(samples, column):
    with pytest.raises(scaling.SchemaError, match=rf"missing column\(s\) \['{column}'\]: expected a sample table, "
                                                  r"one row per solution.*help\(scaling.schema\)"):
        scaling.evaluate(pd.DataFrame(samples).drop(columns=[column]))


@pytest.mark.parametrize("table, what", [("curves", "a curves table"), ("per_problem", "a per-problem table"),
                                         ("limits", "a limits table")])
def test_a_table_of_results_passed_by_mistake_is_named(ev, table, what):
    with pytest.raises(scaling.SchemaError, match=f"got {what}.*evaluate the solutions, not their results"):
        scaling.evaluate(getattr(ev, table))


def test_not_a_table_is_named():
    with pytest.raises(scaling.SchemaError, match="expected a sample table .* got str"):
        scaling.evaluate("data/samples")


def test_a_raw_table_is_validated_at_the_boundary(samples):
    raw = pd.DataFrame(samples.to_dict("list"))            # a plain DataFrame: not marked as validated
    assert scaling.evaluate(raw, n_boot=0, extrapolate=()).curves.equals(
        scaling.evaluate(samples, n_boot=0, extrapolate=()).curves)
    bad = raw.assign(correct=np.where(np.arange(len(raw)) == 5, "maybe", raw.correct.astype(str)))
    with pytest.raises(scaling.SchemaError, match=r"column 'correct': expected a boolean.*first is row 5"):
        scaling.evaluate(bad)
    # a validated table changed in place afterwards is checked again
    changed = samples.copy()
    changed["gen_tokens"] = changed["gen_tokens"].astype(float) - 1000.5
    with pytest.raises(scaling.SchemaError, match="column 'gen_tokens'"):
        scaling.evaluate(changed)


# ------------------------------------------------------------------ built once, one bootstrap
def test_the_matrices_are_built_once(samples, monkeypatch):
    calls = {"iter_matrices": 0, "groups": 0}
    iter_matrices, one = matrix_module.iter_matrices, matrix_module._one_matrix

    def counting_iter_matrices(*a, **k):
        calls["iter_matrices"] += 1
        return iter_matrices(*a, **k)

    def counting_one(*a, **k):
        calls["groups"] += 1
        return one(*a, **k)

    monkeypatch.setattr(evaluation_module, "iter_matrices", counting_iter_matrices)
    monkeypatch.setattr(matrix_module, "_one_matrix", counting_one)
    ev = scaling.evaluate(samples, n_boot=10)
    assert calls == {"iter_matrices": 1, "groups": 2}
    assert len(ev.per_problem) and len(ev.limits_per_problem) and len(ev.extrapolated)


def _tables(ev) -> dict:
    return {k: getattr(ev, k) for k in ("per_problem", "extrapolated", "curves", "limits", "limits_per_problem")}


def test_results_do_not_depend_on_the_workers_or_the_shards(samples, monkeypatch):
    """n_jobs changes where a shard is evaluated, not what: bit-identical tables.  Cut into 4 shards per
    group, the exact strategies keep their values (to rounding), and so do weighted majority at k = 1 and n."""
    one = scaling.evaluate(samples, n_boot=50, n_jobs=1)
    monkeypatch.setattr(workers_module, "SHARD_CELLS", 64)          # 30 problems x 8 solutions -> 4 shards
    assert [len(r) for r in workers_module.shards(matrix_module.to_matrices(samples)[0])] == [8, 8, 7, 7]
    cut = scaling.evaluate(samples, n_boot=50, n_jobs=1)
    for name, table in _tables(scaling.evaluate(samples, n_boot=50, n_jobs=2)).items():
        pd.testing.assert_frame_equal(table, _tables(cut)[name], check_exact=True)
    a, b = one.per_problem, cut.per_problem
    pd.testing.assert_frame_equal(a.drop(columns=["accuracy", "mc_var"]), b.drop(columns=["accuracy", "mc_var"]))
    same = (a.strategy != "weighted_majority") | a.k.isin([1, 8])
    np.testing.assert_allclose(a.accuracy[same], b.accuracy[same], rtol=0, atol=1e-15)
    assert not np.array_equal(a.accuracy[~same], b.accuracy[~same])   # the shards draw their own subsets


def test_an_error_in_a_worker_is_raised_here(samples):
    bad = samples.assign(reward=samples.reward - 2.0)
    with pytest.raises(ValueError, match="rewards must be >= 0"):
        scaling.evaluate(bad, strategies=["weighted_majority"], n_boot=0, n_jobs=2)


def test_limits_equal_the_standalone_function_with_the_same_draws(samples, ev):
    pd.testing.assert_frame_equal(ev.limits, scaling.limits(samples, n_boot=200))
    pd.testing.assert_frame_equal(ev.limits_per_problem, scaling.limits(samples, per_problem=True))
    # the curve at k = n is the vote over all cached samples, which is the plug-in limit, and both are
    # resampled with the same problem weights, so their intervals coincide too
    top = ev.curves[(ev.curves.strategy == "majority") & (ev.curves.k == 8)].set_index("model")
    lim = ev.limits[ev.limits.strategy == "majority"].set_index("model")
    for col in ("accuracy", "ci_low", "ci_high"):
        np.testing.assert_allclose(top[col], lim[{"accuracy": "limit"}.get(col, col)], atol=1e-12)


def test_curves_are_the_mean_of_the_per_problem_values_with_a_percentile_interval(ev):
    pp = ev.per_problem
    for r in ev.curves.itertuples():
        v = pp[(pp.model == r.model) & (pp.strategy == r.strategy) & (pp.k == r.k)]
        assert r.accuracy == pytest.approx(v.accuracy.mean(), abs=1e-12)
        assert r.flops == pytest.approx(v.flops.mean()) and r.n_problems == len(v) == 30
        assert r.ci_low <= r.accuracy <= r.ci_high
    wm = ev.curves[(ev.curves.strategy == "weighted_majority") & (ev.curves.k > 1) & (ev.curves.k < 8)]
    assert (wm.mc_se > 0).all() and ev.curves[ev.curves.strategy == "majority"].mc_se.isna().all()


def test_select_and_rebuilding_from_the_tables_reproduce_the_parent(ev):
    sub = ev.select(model="b-4b")
    pd.testing.assert_frame_equal(sub.curves, ev.curves[ev.curves.model == "b-4b"].reset_index(drop=True))
    pd.testing.assert_frame_equal(sub.limits, ev.limits[ev.limits.model == "b-4b"].reset_index(drop=True))
    again = Evaluation(ev.per_problem, extrapolated=ev.extrapolated, limits_per_problem=ev.limits_per_problem,
                       n_boot=200)
    pd.testing.assert_frame_equal(again.curves, ev.curves)
    with pytest.raises(KeyError, match="no column"):
        ev.select(size="big")


def test_values_summary_and_a_one_call_plot(ev):
    v = ev.values(model="a-1b", strategy="majority")
    assert v.shape == (4, 30) and list(v.index) == [1, 2, 4, 8]
    assert ev.values(model="a-1b", strategy="majority", extrapolated=True).index.tolist() == [16, 32, 64, 128]
    with pytest.raises(KeyError, match="configurations match"):
        ev.values(model="a-1b")
    text = ev.summary()
    assert "== task toy ==" in text and "a-1b / sample / weighted_majority" in text and "128" in text
    assert repr(ev).startswith("Evaluation(1 task(s), 8 configurations, 32 points")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    ax = sns.lineplot(data=ev.curves, x="flops", y="accuracy", hue="model", style="strategy")
    assert len(ax.get_lines()) >= 8
    plt.close("all")


def test_extrapolation_is_optional_and_per_problem(samples):
    none = scaling.evaluate(samples, n_boot=0, extrapolate=())
    assert none.extrapolated.empty
    two = scaling.evaluate(samples, n_boot=0, strategies=["pass_at_k"], extrapolate=(2,))
    assert set(two.extrapolated.k) == {16} and len(two.extrapolated) == 2 * 30
    assert two.extrapolated.accuracy.between(0, 1).all()


def test_tree_search_units_missing_a_budget_keep_paired_intervals():
    rows = []
    for pid in ("p0", "p1", "p2"):
        for budget in (4, 8):
            if pid == "p2" and budget == 8:
                continue      # p2 was never searched at budget 8
            for i in range(budget):
                rows.append({"task": "t", "problem_id": pid, "model": "m", "params": 1e9, "method": "rebase",
                             "sample_id": i, "answer": "1" if (i + len(pid)) % 3 else "2",
                             "correct": bool((i + len(pid)) % 3), "gen_tokens": 10, "run_id": f"{pid}-{budget}",
                             "budget": budget, "run_gen_tokens": 100 * budget, "reward": 0.5})
    ev = scaling.evaluate(pd.DataFrame(rows), strategies=["majority"], n_boot=50)
    assert ev.curves.set_index("k").n_problems.to_dict() == {4: 3, 8: 2}
    assert ev.limits.empty and ev.extrapolated.empty

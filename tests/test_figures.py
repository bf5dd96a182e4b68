"""scaling.figures: interpolation, matched-compute comparison, difficulty bins, subsampling, table layouts."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import scaling  # noqa: E402
from scaling import figures as F  # noqa: E402
from scaling.synthetic import family_table  # noqa: E402


def _curve(method, ks, cost, acc, model="m", params=1e9, strategy="weighted_majority"):
    ks = np.asarray(ks)
    acc = np.asarray(acc, float)
    return pd.DataFrame({"task": "t", "model": model, "params": params, "method": method, "strategy": strategy,
                         "k": ks, "flops": ks * cost, "accuracy": acc, "ci_low": acc - 0.05, "ci_high": acc + 0.05})


def test_interp_accuracy_is_linear_in_log_flops_and_nan_outside():
    c = _curve("sample", [1, 10, 100], 1e10, [0.2, 0.5, 0.6])
    got = F.interp_accuracy(c, [1e10, 10 ** 10.5, 1e11, 10 ** 11.5, 1e12, 1e9, 1e13])
    np.testing.assert_allclose(got[:5], [0.2, 0.35, 0.5, 0.55, 0.6])
    assert np.isnan(got[5]) and np.isnan(got[6])


def test_interp_flops_inverts_interp_accuracy():
    c = _curve("sample", [1, 2, 4, 8, 16], 3e9, [0.1, 0.3, 0.45, 0.5, 0.52])
    for a in (0.1, 0.2, 0.44, 0.51):
        f = F.interp_flops(c, a)
        assert F.interp_accuracy(c, f)[0] == pytest.approx(a)
    assert np.isnan(F.interp_flops(c, 0.6))
    assert F.interp_flops(c, 0.05) == pytest.approx(3e9)  # already reached at the first point


def test_matched_compute_gain_and_saving_by_hand():
    s = _curve("sample", [1, 10, 100], 1e10, [0.2, 0.5, 0.6])
    r = _curve("rebase", [10], 1e10, [0.55])  # at 1e11 FLOPs sampling has 0.5; reaches 0.55 at 10**11.5
    mc = F.matched_compute(pd.concat([s, r]), base="sample", other="rebase")
    assert len(mc) == 1
    row = mc.iloc[0]
    assert row.base_accuracy == pytest.approx(0.5)
    assert row.gain == pytest.approx(0.05)
    assert row.base_flops == pytest.approx(10 ** 11.5)
    assert row.saving == pytest.approx(10 ** 0.5)
    # a model without the other method gives no rows
    assert F.matched_compute(s, base="sample", other="rebase").empty


def test_difficulty_bin_levels_and_bad_label():
    df = pd.DataFrame({"difficulty": ["Level 1", "Level 2", "Level 3", "5", "2", "Level 4"]})
    out = F.difficulty_bin(df)
    assert list(out.difficulty_bin) == ["easy", "easy", "hard", "hard", "easy", "hard"]
    assert "difficulty_bin" not in df  # input untouched
    with pytest.raises(ValueError, match=r"row 1 has difficulty='hard'"):
        F.difficulty_bin(pd.DataFrame({"difficulty": ["1", "hard"]}))
    with pytest.raises(ValueError, match="no 'difficulty' column"):
        F.difficulty_bin(pd.DataFrame({"x": [1]}))


def test_difficulty_bin_scales_the_paper_split_to_any_number_of_levels():
    math = F.difficulty_bin(pd.DataFrame({"difficulty": [f"Level {i}" for i in range(1, 6)]}), easy_max=None)
    assert list(math.difficulty_bin) == ["easy"] * 2 + ["hard"] * 3
    assert math.attrs["difficulty_levels"] == {"easy": "levels 1-2", "hard": "levels 3-5"}
    ten = F.difficulty_bin(pd.DataFrame({"difficulty": [str(i) for i in range(1, 11)]}), easy_max=None)
    assert list(ten.difficulty_bin) == ["easy"] * 4 + ["hard"] * 6
    assert ten.attrs["difficulty_levels"] == {"easy": "levels 1-4", "hard": "levels 5-10"}


def test_subsample_keeps_whole_problems_for_every_model_and_strata():
    t = family_table({"a": 1e8, "b": 1e9}, n_problems=80, n_samples=4, seed=3)
    sub = F.subsample_problems(t, 20, seed=1)
    per_model = sub.groupby("model").problem_id.apply(lambda s: frozenset(s))
    assert per_model["a"] == per_model["b"] and len(per_model["a"]) == 20
    assert (sub.groupby(["model", "problem_id"]).size() == 4).all()
    # stratified: easy/hard shares follow the full table (each half here)
    counts = sub.drop_duplicates("problem_id").difficulty.value_counts()
    full = t.drop_duplicates("problem_id").difficulty.value_counts()
    for lvl in full.index:
        assert abs(counts[lvl] - 20 * full[lvl] / full.sum()) <= 1
    assert F.subsample_problems(t, None) is t
    assert len(F.subsample_problems(t, 1000)) == len(t)


def test_family_task_picks_most_sizes():
    a = family_table({"a": 1e8, "b": 1e9, "c": 1e10}, n_problems=5, n_samples=2, task="fam")
    b = family_table({"x": 1e9}, n_problems=5, n_samples=2, task="one")
    assert F.family_task(pd.concat([b, a])) == "fam"
    assert F.family_task(b) is None


def test_table4_and_table1_layouts():
    g = pd.DataFrame({"task": "t", "model": "m", "params": 1e9, "method": "greedy", "strategy": "greedy", "k": [1],
                      "flops": [1e10], "accuracy": [0.3], "ci_low": [0.25], "ci_high": [0.35]})
    rows = [g]
    for s, base in (("majority", 0.4), ("best_of_n", 0.42), ("weighted_majority", 0.45)):
        rows.append(_curve("sample", [1, 8, 32, 64], 1e10, [0.3, base - 0.02, base, base + 0.01], strategy=s))
        rows.append(_curve("rebase", [8, 16], 1.2e10, [base + 0.03, base + 0.05], strategy=s))
    c = pd.concat(rows, ignore_index=True)
    t4, used = F.table4(c, n=32)
    assert t4.loc["m", "greedy"] == 30.0
    assert t4.loc["m", "sampling+WV"] == 45.0 and used.loc["m", "sampling+WV"] == 32
    assert t4.loc["m", "REBASE+MV"] == 45.0 and used.loc["m", "REBASE+MV"] == 16  # largest k <= 32
    t1 = F.table1(c)
    assert list(t1.method) == ["sampling", "REBASE"]
    tree = t1.iloc[1]
    assert tree.n == 16 and tree["accuracy %"] == 50.0
    assert not tree.reached  # sampling tops out at 0.46
    assert tree["FLOPs ratio"] == pytest.approx(64e10 / (16 * 1.2e10))  # lower bound: sampling's largest FLOPs


def test_saturation_plug_in_limit_equals_vote_over_all_samples():
    t = family_table({"a": 1e8, "b": 1e9}, n_problems=60, n_samples=16, seed=5)
    ev = scaling.evaluate(t, strategies=["majority", "weighted_majority"], n_boot=0, extrapolate=())
    sat = F.saturation(ev.curves, ev.limits)
    assert len(sat) == 4
    # the plug-in estimate is the (weighted) vote over all cached samples, i.e. the accuracy at k = n
    np.testing.assert_allclose(sat.limit, sat.acc_k_max, atol=0.02)
    assert {"gap_k2", "gap_k4", "gap_k8", "gap_ratio"} <= set(sat.columns)


def test_plot_curves_draws_one_line_per_group_with_bands():
    s = _curve("sample", [1, 2, 4], 1e10, [0.2, 0.3, 0.35])
    r = _curve("rebase", [2, 4], 1e10, [0.35, 0.4])
    m = _curve("mcts", [2, 4], 1e10, [0.25, 0.3])
    fig, ax = plt.subplots()
    F.plot_curves(ax, pd.concat([s, r, m]))
    F.finish_axes(ax, "x")
    labels = ax.get_legend_handles_labels()[1]
    assert len(labels) == 3 and any("REBASE" in lab for lab in labels)
    assert ax.get_xscale() == "log" and "%" in ax.get_ylabel() and "FLOPs" in ax.get_xlabel()
    assert len(ax.collections) >= 2  # two shaded bands (sampling, REBASE) + MCTS error bars
    y = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(np.sort(y), np.sort(100 * (1 - np.array([0.25, 0.3]))))  # mcts first (sorted)
    plt.close(fig)


def test_importing_the_library_leaves_the_matplotlib_backend_alone():
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg')\n"
            "import scaling, scaling.plots, scaling.figures, scaling.fit\n"
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_one_size_label_everywhere():
    from scaling import names, plots
    assert F.size_label is names.size_label and names.size_label(2e4) == "20k" and names.size_label(6.9e9) == "6.9B"
    assert plots.size_label is names.size_label


def test_has_rewards_ignores_greedy_rows_and_accepts_step_rewards():
    t = family_table({"a": 1e8}, n_problems=4, n_samples=2)
    assert F.has_rewards(t)
    g = t.head(4).assign(method="greedy", reward=np.nan)
    assert F.has_rewards(pd.concat([t, g]))
    t2 = t.copy()
    t2.loc[t2.index[0], "reward"] = np.nan
    assert not F.has_rewards(t2)
    t3 = t.assign(reward=np.nan, step_rewards=[[0.1, 0.9]] * len(t))
    assert F.has_rewards(t3)
    assert not F.has_rewards(g)

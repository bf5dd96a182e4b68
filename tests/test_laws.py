"""Laws: frontier, optimal, min_flops, size law, allocation on hand-checkable cases; files; what fit accepts."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scaling
from scaling.allocation import per_difficulty, split_budget
from scaling.curves import ExtrapolationWarning
from scaling.evaluation import Evaluation, fit
from scaling.frontier import pareto
from scaling.laws import FORMAT_VERSION, LawFileError, read_laws

K = 2 ** np.arange(0, 9)


def curve_rows(model, params, cost, e_inf, a=0.5, alpha=0.5, strategy="majority", **extra):
    """Exact power-floor curves: error = e_inf + a * k^-alpha at flops = k * cost."""
    acc = 1 - (e_inf + a * K.astype(float) ** -alpha)
    return pd.DataFrame({"task": "t", "model": model, "params": params, "method": "sample", "strategy": strategy,
                         "k": K, "flops": K * cost, "accuracy": acc, **extra})


def evaluation(*frames, P=200):
    """An evaluation whose P problems all have the curve's value at every k (so its mean is exact)."""
    rows = pd.concat(frames, ignore_index=True)
    per_problem = rows.merge(pd.DataFrame({"problem_id": [f"p{i:03d}" for i in range(P)]}), how="cross")
    return Evaluation(per_problem, n_boot=0)


@pytest.fixture(scope="module")
def two_models():
    # small: cheap, floor 30 % error; big: 10x the cost per sample, floor 10 % error
    ev = evaluation(curve_rows("small", 1e9, 1e12, 0.30), curve_rows("big", 1e10, 1e13, 0.10))
    return fit(ev, n_boot=0, families=["power_floor"])


def test_pareto_hand_case():
    pts = pd.DataFrame({"model": list("abcde"), "flops": [1, 2, 2, 3, 4.0], "accuracy": [0.5, 0.4, 0.6, 0.6, 0.9]})
    assert pareto(pts).model.tolist() == ["a", "c", "e"]


def test_optimal_matches_hand_calculation(two_models):
    laws = two_models
    # at 1e13: small k=10 -> 1-(0.3+0.5/sqrt(10)) = 0.5419; big k=1 -> 1-(0.1+0.5) = 0.40
    o = laws.optimal(1e13)
    assert o.model == "small" and o.k == 10
    assert o.accuracy == pytest.approx(1 - (0.3 + 0.5 / np.sqrt(10)), abs=1e-4)
    # at 2.56e14 (small's top): small 0.66875; big k=25: 1-(0.1+0.1) = 0.80
    o = laws.optimal(2.56e14)
    assert o.model == "big" and o.k == 25
    assert o.accuracy == pytest.approx(0.8, abs=1e-4)
    with pytest.raises(ValueError, match="cheapest"):
        laws.optimal(1e11)


def test_min_flops_hand_calculation(two_models):
    laws = two_models
    # 0.6 accuracy: small needs 0.5 k^-0.5 <= 0.1 -> k = 25 (2.5e13); big needs k = 4 (4e13)
    m = laws.min_flops(0.6)
    assert m.model == "small" and m.k == 25 and m.flops == pytest.approx(2.5e13)
    m = laws.min_flops(0.75)  # only big: 0.5 k^-0.5 <= 0.15 -> k = 12
    assert m.model == "big" and m.k == 12
    with pytest.raises(ValueError, match="best reachable"):
        laws.min_flops(0.95)


def test_frontier_and_predict(two_models, tmp_path):
    fr = two_models.frontier()
    assert fr.flops.is_monotonic_increasing and fr.accuracy.is_monotonic_increasing
    assert two_models.predict(4e12, model="small") == pytest.approx(1 - (0.3 + 0.25), abs=1e-4)
    with pytest.warns(ExtrapolationWarning, match="outside the fitted range"):
        two_models.predict(1e17, model="small")
    with pytest.raises(KeyError, match="curves match"):
        two_models.predict(1e13)
    cf = two_models.frontier(source="curves", budgets=[1e13, 2.56e14])
    assert cf.model.tolist() == ["small", "big"]


def test_size_law_recovers_planted_slope():
    # model N: cost per sample = N * 1e3; curve error = 0.05 + (C / (N * 1e3 * N^0.5))^-0.5 * 0.3 ...
    # built so that the crossover budget between sizes grows like N^1.5: log10 C = 1.5 log10 N + const
    frames = []
    for N in [1e8, 1e9, 1e10, 1e11]:
        cost = N * 1e3
        e_inf = 0.4 * (N / 1e8) ** -0.25
        frames.append(curve_rows(f"m{N:.0e}", N, cost, e_inf, a=0.5, alpha=0.5))
    laws = evaluation(*frames).fit(n_boot=0, families=["power_floor"])
    sl = laws.size_law()
    assert sl is not None and sl.slope > 0
    assert sl.exponent == pytest.approx(1 / sl.slope)
    assert len(set(sl.optimal["params"])) >= 3


def test_save_load_roundtrip_and_refusals(two_models, tmp_path):
    p = two_models.write(tmp_path / "t.json")
    back = read_laws(p)
    for c in (1e13, 5e13, 2e14):
        assert back.predict(c, model="big") == pytest.approx(two_models.predict(c, model="big"))
    assert back.optimal(1e13).model == "small"
    doc = json.loads(p.read_text())
    assert doc["version"] == FORMAT_VERSION and "package_version" in doc and doc["payload"]["meta"]["compute"]
    # damaged payload
    txt = p.read_text().replace('"family": "power_floor"', '"family": "logistic"', 1)
    (tmp_path / "bad.json").write_text(txt)
    with pytest.raises(LawFileError, match="damaged"):
        read_laws(tmp_path / "bad.json")
    (tmp_path / "trunc.json").write_text(p.read_text()[:100])
    with pytest.raises(LawFileError, match="damaged"):
        read_laws(tmp_path / "trunc.json")
    doc["version"] = 99
    (tmp_path / "v99.json").write_text(json.dumps(doc))
    with pytest.raises(LawFileError, match="unknown laws format version 99"):
        read_laws(tmp_path / "v99.json")


def test_per_difficulty_gain_and_split():
    # easy bin: the small model is nearly perfect cheaply; hard bin: only the big model does well
    frames = [curve_rows("small", 1e9, 1e12, 0.02, difficulty="easy"),
              curve_rows("big", 1e10, 1e13, 0.01, difficulty="easy"),
              curve_rows("small", 1e9, 1e12, 0.60, difficulty="hard"),
              curve_rows("big", 1e10, 1e13, 0.15, difficulty="hard")]
    laws = evaluation(*frames).fit(n_boot=0, families=["power_floor"])
    res = per_difficulty(laws, 2.56e14)
    easy, hard, tot = res.iloc[0], res.iloc[1], res.iloc[2]
    assert "big" in hard.choice
    assert tot.gain >= 0
    assert tot.accuracy == pytest.approx(0.5 * easy.accuracy + 0.5 * hard.accuracy)
    split = split_budget(laws, total=100 * 1e14, counts={"easy": 50, "hard": 50})
    assert split.attrs["total_used"] <= 100 * 1e14 * (1 + 1e-9)
    by = split.set_index("bin")
    assert by.loc["hard", "budget_per_problem"] > by.loc["easy", "budget_per_problem"]
    with pytest.raises(ValueError, match="no fitted curves"):
        split_budget(laws, total=1e16, counts={"medium": 10})


def test_fit_takes_an_evaluation_or_a_sample_table_and_names_anything_else():
    with pytest.raises(scaling.SchemaError, match=r"missing column\(s\) \['problem_id'"):
        fit(pd.DataFrame({"task": ["t"]}))
    curves = evaluation(curve_rows("small", 1e9, 1e12, 0.3)).curves
    with pytest.raises(scaling.SchemaError, match="got a curves table.*no 'problem_id' column.*help\\(scaling.schema\\)"):
        fit(curves)
    from scaling.synthetic import family_table
    t = family_table({"a": 1e8}, n_problems=20, n_samples=8)
    by_table, by_evaluation = fit(t, n_boot=0), scaling.evaluate(t).fit(n_boot=0)
    assert by_table.curves.keys() == by_evaluation.curves.keys()
    for label, cf in by_table.curves.items():
        assert cf.params == by_evaluation.curves[label].params


def test_fit_flags_too_few_points():
    few = curve_rows("small", 1e9, 1e12, 0.3).head(2)
    laws = evaluation(few).fit(n_boot=0)
    assert laws.curves == {} and len(laws.points) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert laws.optimal(1e13).source == "point"


def test_tree_search_curve_competes():
    """Tree-search rows (k = the run's budget) get their own curve and can win a budget."""
    rebase = curve_rows("small", 1e9, 1.3e12, 0.20).assign(method="rebase")
    laws = evaluation(curve_rows("small", 1e9, 1e12, 0.30), rebase).fit(n_boot=0, families=["power_floor"])
    assert {cf.key["method"] for cf in laws.curves.values()} == {"sample", "rebase"}
    o = laws.optimal(1e14)
    assert o.method == "rebase" and o.k == int(1e14 // 1.3e12)


def test_multi_task_labels_lead_with_the_task():
    other = curve_rows("small", 1e9, 1e12, 0.2).assign(task="u")
    laws = evaluation(curve_rows("small", 1e9, 1e12, 0.3), other).fit(n_boot=0, families=["power_floor"])
    assert sorted(laws.curves) == ["t / small / sample / majority", "u / small / sample / majority"]
    assert laws.predict(4e12, model="small", task="u") == pytest.approx(1 - (0.2 + 0.25), abs=1e-4)

"""fit_law: safe formulas, global fits of training-style laws, intervals, errors."""

import numpy as np
import pandas as pd
import pytest

from scaling.fitlaw import Formula, FormulaError, fit_law

CHIN = dict(E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28)


def chinchilla_table(n=250, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7.5, 10.5, n)
    D = 10 ** rng.uniform(9, 12, n)
    L = CHIN["E"] + CHIN["A"] / N ** CHIN["alpha"] + CHIN["B"] / D ** CHIN["beta"]
    return pd.DataFrame({"N": N, "D": D, "loss": L * np.exp(rng.normal(0, noise, n))})


def test_chinchilla_exact_recovery():
    fit = fit_law(chinchilla_table(), "E + A / N**alpha + B / D**beta", x=["N", "D"], y="loss")
    assert fit.converged
    for k, v in CHIN.items():
        assert fit.params[k] == pytest.approx(v, rel=0.02), k


def test_chinchilla_noisy_intervals_cover():
    t = chinchilla_table(noise=0.01, seed=1)
    fit = fit_law(t, "E + A / N**alpha + B / D**beta", x=["N", "D"], y="loss", bootstrap=30, seed=2)
    ci = fit.conf_int()
    for k, v in CHIN.items():
        assert ci.loc[k, "ci_low"] <= v <= ci.loc[k, "ci_high"], (k, ci.loc[k].to_dict())
    pred, lo, hi = fit.predict(t.head(5), interval=True)
    assert np.all(lo <= pred + 1e-12) and np.all(pred <= hi + 1e-12)
    assert "alpha" in fit.summary() and "bootstrap" in fit.summary()


def test_callable_and_free_bounds():
    x = np.linspace(1, 10, 30)
    t = pd.DataFrame({"x": x, "y": 3.0 - 0.5 * x})
    fit = fit_law(t, lambda x, a, b: a + b * x, x="x", y="y", log_space=False, loss="l2",
                  bounds={"b": (None, None)})
    assert fit.params["a"] == pytest.approx(3.0, abs=1e-6)
    assert fit.params["b"] == pytest.approx(-0.5, abs=1e-6)
    ci = fit.conf_int()
    assert ci.loc["b", "method"] == "wald"


def test_huber_resists_outliers():
    x = np.geomspace(1, 1e4, 40)
    y = 0.2 + 2.0 * x ** -0.5
    y[::8] *= 3.0  # gross outliers
    fit = fit_law(pd.DataFrame({"x": x, "y": y}), "E + A * x**(-a)", x="x", y="y", delta=1e-2)
    assert fit.params["a"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("bad", ["__import__('os').system('true')", "N.real", "N[0] + a", "lambda: a",
                                 "a if N else 1", "open(N) + a", "exp(N, 2) + a", "[a for a in N]",
                                 "a + 'x'", "N + _a", "a @ N", "exp"])
def test_formula_rejects_unsafe(bad):
    with pytest.raises(FormulaError):
        Formula(bad, ["N"])


def test_formula_errors_name_the_problem():
    with pytest.raises(FormulaError, match="does not use"):
        Formula("a + b", ["N"])
    t = pd.DataFrame({"N": [1.0, 2.0], "y": [1.0, -1.0]})
    with pytest.raises(ValueError, match="y > 0"):
        fit_law(t, "a * N", x="N", y="y")
    with pytest.raises(KeyError, match="no column 'D'"):
        fit_law(t, "a * D", x="D", y="y", log_space=False)
    with pytest.raises(ValueError, match="cannot determine"):
        fit_law(t.iloc[:1], "a + b * N", x="N", y="y", log_space=False)
    with pytest.raises(FormulaError, match="unknown parameter"):
        fit_law(t, "a * N", x="N", y="y", log_space=False, bounds={"zz": (0, 1)})


@pytest.mark.parametrize("seed", range(4))
def test_global_optimum_from_any_seed(seed):
    """Few points and a flat robust loss: the multi-start must still find the exact law."""
    N = np.geomspace(1e7, 1e10, 12)
    t = pd.DataFrame({"N": N, "loss": 1.7 + 400 / N ** 0.34})
    fit = fit_law(t, "E + A / N**alpha", x=["N"], y="loss", seed=seed)
    assert fit.converged
    assert fit.params["alpha"] == pytest.approx(0.34, rel=1e-3)
    assert fit.params["E"] == pytest.approx(1.7, rel=1e-3)

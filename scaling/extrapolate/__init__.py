"""Per-problem models that predict a strategy's accuracy at many more samples than were cached, with
an interval for every extrapolated point.

A curve fitted to accuracy-versus-k knows only its own shape.  The cached solutions know more: how
often each problem is solved, how the votes split between answers, how the rewards of right and wrong
solutions are distributed.  These models use that to predict accuracy at ``k`` beyond the ``n`` cached
solutions per problem (say, 1024 or 4096 from 64).  Where k is within the cached solutions the exact
estimate is returned.

Coverage (pass@k)
    Success counts c_i ~ Binomial(n_i, p_i), p_i i.i.d. from a prior G; then
    ``E[pass@k | c_i] = E[1 - (1 - p)^k | c_i]`` under each problem's posterior.  Schaeffer et al.
    (2025) show that the aggregate power law ``-log pass@k ~ a k^-b`` of Brown et al. (2024) comes from
    the left tail of G (density ~ p^(b-1) near 0), and that fitting G is far more sample-efficient than
    fitting the aggregate curve; whether a never-solved problem is merely hard or impossible is,
    however, barely identified by n samples.  So :func:`fit_success_model` fits several G by marginal
    likelihood on a fine logit grid -- Beta (beta-binomial, the power-law tail), a two-Beta mixture, a
    logit-t (item-response difficulty), each with and without a point mass at p = 0 -- and weighs them
    by an out-of-sample check inside the data: refitted on n/4 of each problem's solutions, how well
    does each predict when the still-unsolved problems get solved by n?  The weights (check score times
    exp(-BIC/2)) and the whole procedure are bootstrapped over problems, so the interval carries the
    uncertainty of which tail fits, not only of its parameters, and widens when few problems are solved.

    Far beyond n that check cannot see far enough, and on real data every such model errs: it reads
    the problems never solved as either merely hard or impossible.  So coverage beyond n is, by
    default, the *bracket* (:mod:`scaling.extrapolate.bracket`): the midpoint of two opposite readings
    -- Brown et al.'s power law fitted to the cached curve (everything is eventually solved; on
    CodeContests it over-predicts) and the beta-binomial averaged over the never-solvable share by its
    profile likelihood (:func:`scaling.extrapolate.zero_share.fit_zero_share`; it under-predicts) --
    with an interval from the lower reading's low end to the upper's high end.  The per-problem model
    replaces it only where the long-range in-data check (fit on n/16, predict n) shows the model better
    by three standard deviations of the check's noise (:func:`scaling.extrapolate.predict.choose`).
Majority voting
    Posterior draws of each problem's answer distribution: Dirichlet(counts + 1/2) over the observed
    answer classes plus an unseen-answer bucket (Good-Turing mass, never a winner) and the null answer
    (never a winner); vote counts at k drawn from the multinomial; ties split.  Converges to the
    Theorem-1 limit as k grows.
Weighted majority voting
    As majority, with each class's total reward ``count_j * mu_j + sqrt(count_j) * sigma * Z``, the class
    mean ``mu_j`` drawn from its normal posterior (shrunk toward the problem's right/wrong mean) and
    ``sigma`` the pooled within-class spread.
Best-of-n
    Decided by the upper tails of the reward distributions of right and wrong answers (see
    :func:`_best_of_n`): per-class locations with empirical-Bayes shrinkage, one pooled residual shape
    whose upper tail is a generalised Pareto fitted to the top 10 % of residuals (not clipped at the
    largest one seen), the tail index and the right/wrong scale ratio drawn from their posteriors,
    p_i from the success model.  An out-of-sample check (fit on n/4, predict best-of-n at n) measures
    the model's own extrapolation error inside the data; an error beyond the check's noise widens the
    interval in proportion to log k.  For best-of-n and weighted majority the same check also scores the
    power law fitted to the strategy's curve up to n/4, which replaces the model where the model is off
    by three noise standard deviations and the power law closer by three.

Voting and best-of-n are *anchored*: for problem i, ``pred_i(k) = exact_i(k_a) + model_i(k) - model_i(k_a)``
with ``exact_i(k_a)`` the exact subset estimate at ``k_a = n/2`` and the model supplying the increment.

Intervals are of the mean over the group's problems of their true (population) accuracy at k, at
nominal ``level`` (95 %).  ``benchmarks/bench_extrapolate.py`` measures their coverage and the errors
against the power-law anchor (:func:`power_law_anchor`) on 14 generated worlds and the shipped data.

>>> from scaling.synthetic import make_world, sample_table
>>> from scaling.matrix import to_matrices
>>> m = to_matrices(sample_table(make_world(200, seed=3), 64))[0]
>>> out = extrapolate(m, "pass_at_k", ks=[64, 1024])
>>> list(out.columns)  # doctest: +NORMALIZE_WHITESPACE
['strategy', 'k', 'flops', 'accuracy', 'ci_low', 'ci_high', 'se', 'extrapolated', 'plug_in', 'n_problems',
 'model', 'prior', 'check_error', 'anchor', 'anchor_check_error']
>>> bool(out.ci_low.iloc[1] <= out.accuracy.iloc[1] <= out.ci_high.iloc[1])
True
"""

from __future__ import annotations

from .groups import STRATEGIES
from .power_law import power_law_anchor
from .predict import extrapolate, per_problem, predict
from .priors import FAMILIES, SuccessPrior
from .selection import SuccessModel, fit_success_model

__all__ = ["SuccessPrior", "SuccessModel", "fit_success_model", "extrapolate", "predict", "per_problem",
           "power_law_anchor", "STRATEGIES", "FAMILIES"]

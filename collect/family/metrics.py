"""How well a verifier's step scores separate good from bad steps and correct from wrong solutions.

One implementation for every reward model of the family (the step-tag PRM of :mod:`collect.family.prm`
and the likelihood verifier of :mod:`collect.family.verifier`): both give one score per step, the score
after step ``k`` judging the solution up to step ``k``.
"""

from __future__ import annotations

import numpy as np


def auc(scores, labels) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties half
    (Mann-Whitney U / (n1 n0)); NaN when a class is absent.

    >>> auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    from scipy.stats import rankdata

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if not n1 or not n0:
        return float("nan")
    return float((rankdata(s)[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _balanced(p: np.ndarray, y: np.ndarray) -> float:
    rec = [float((p[y == c] == c).mean()) for c in (True, False) if (y == c).any()]
    return float(np.mean(rec))


def within_question_auc(scores, correct, questions) -> float:
    """AUC over pairs (correct, wrong) of solutions to the same question, ties half: what weighted voting
    and best-of-n use (a ranker of one question's solutions). NaN when no question has both kinds."""
    scores, correct = np.asarray(scores, float), np.asarray(correct, bool)
    by_q: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_q.setdefault(q, []).append(i)
    wins = ties = pairs = 0.0
    for ix in by_q.values():
        good, bad = scores[ix][correct[ix]], scores[ix][~correct[ix]]
        if len(good) and len(bad):
            wins += float((good[:, None] > bad[None, :]).sum())
            ties += float((good[:, None] == bad[None, :]).sum())
            pairs += len(good) * len(bad)
    return (wins + ties / 2) / pairs if pairs else float("nan")


def verifier_metrics(scores: list, records: list[dict]) -> dict:
    """Metrics of per-step ``scores`` (one array per record) against the exact labels of ``records``
    (dicts with ``question``, ``labels`` per step, ``correct``):

    * step level: accuracy of score > 0.5, balanced accuracy (mean recall of the two classes), AUC over all
      steps, and ``first_error_auc`` over the steps whose earlier steps are all good (there the label is
      the step's own correctness: the verifier must check the step, not notice an earlier mistake), pooled
      and per step index (``first_error_auc_by_step``; pooled AUCs can hide a step-position prior), with
      the number of first errors each of those rests on (``first_error_count_by_step``);
    * solution level: the score after the last step (the ``reward``) as accuracy (> 0.5), balanced
      accuracy and AUC against correctness; ``within_question_auc`` among one question's solutions;
    * ``best_of_group_correct``: correctness of the top-scored solution of each question, against
      ``solution_correct_rate`` (a random pick).
    """
    lab = np.concatenate([np.asarray(r["labels"], bool) for r in records])
    flat = np.concatenate([np.asarray(s, float) for s in scores])
    if flat.size != lab.size:
        raise ValueError(f"{flat.size} step scores for {lab.size} step labels")
    first = np.concatenate([np.concatenate([[True], np.cumprod(r["labels"])[:-1].astype(bool)]) for r in records])
    index = np.concatenate([np.arange(len(r["labels"])) for r in records])
    last = np.array([s[-1] for s in scores], float)
    sol = np.array([r["correct"] for r in records], bool)
    questions = [r["question"] for r in records]
    by_q: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_q.setdefault(q, []).append(i)
    best = [sol[max(ix, key=lambda i: last[i])] for ix in by_q.values()]
    at_step = {int(k) + 1: first & (index == k) for k in np.unique(index)}
    by_step = {k: auc(flat[mask], lab[mask]) for k, mask in at_step.items()}
    return {"step_accuracy": float(((flat > 0.5) == lab).mean()),
            "step_balanced_accuracy": _balanced(flat > 0.5, lab), "step_auc": auc(flat, lab),
            "first_error_auc": auc(flat[first], lab[first]),
            "first_error_auc_by_step": {k: v for k, v in by_step.items() if not np.isnan(v)},
            "first_error_count_by_step": {k: int((at_step[k] & ~lab).sum())
                                          for k, v in by_step.items() if not np.isnan(v)},
            "step_good_rate": float(lab.mean()),
            "solution_accuracy": float(((last > 0.5) == sol).mean()),
            "solution_balanced_accuracy": _balanced(last > 0.5, sol), "solution_auc": auc(last, sol),
            "within_question_auc": within_question_auc(last, sol, questions),
            "solution_correct_rate": float(sol.mean()),
            "best_of_group_correct": float(np.mean(best)), "n_groups": len(by_q),
            "n_steps": int(lab.size), "n_solutions": len(records)}

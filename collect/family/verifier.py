"""The family's verifier: a larger causal LM of correct solutions, used as a likelihood verifier.

Why this kind (measured on the family, see data/README.md): almost every first error of the policies is
an arithmetic or bookkeeping slip inside one step (``41-8=34``, a term used twice). A model that writes
correct solutions "knows" the right token exactly where the slip is made, so reading its next-token
distribution along the policy's own text checks every step where it happens
(:class:`collect.rewards.LikelihoodVerifier`), while a step-tag head has to compress that check into one
classification at the tag (the family's step-tag PRM, :mod:`collect.family.prm`, stays far weaker at these
sizes). Like the paper's verifier (a 34B model judging 7B-34B policies), ours is larger than every policy.

Recipe: the policies' training loop (:mod:`collect.family.train`: same data stream of uniformly random
solution paths, loss on solution tokens) with the architecture :data:`VERIFIER_SIZE` and
:data:`VERIFIER_RECIPE`; saved with a ``reward_config.json`` of kind ``likelihood``. It never sees a
policy sample or a label: it is a model of correct solutions only.
"""

from __future__ import annotations

import numpy as np

from collect.family.metrics import verifier_metrics, within_question_auc
from collect.family.train import Recipe

VERIFIER_NAME = "arith-verifier"
#: candidate min-p thresholds; the build keeps the one with the best within-question AUC on the policies'
#: samples of fresh training problems (never the test split), see :func:`choose_min_p`
MIN_P_GRID = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def verifier_scores(verifier, records: list[dict], batch_size: int = 256) -> list[np.ndarray]:
    """Score after every step of every record (``question``, ``steps``) with a likelihood verifier."""
    out: list[np.ndarray] = []
    for i in range(0, len(records), batch_size):
        chunk = records[i:i + batch_size]
        scores = verifier.score([r["question"] for r in chunk], [r["steps"] for r in chunk])
        out += [np.asarray(s, float) for s in scores]
    return out


def choose_min_p(verifier, records: list[dict], grid=MIN_P_GRID) -> tuple[float, dict]:
    """The ``min_p`` of ``grid`` whose scores rank one question's correct solutions above its wrong ones
    best (within-question AUC on ``records``; ties to the smaller), and the AUC of every candidate.
    One forward pass serves the whole grid (:meth:`collect.rewards.LikelihoodVerifier.margins`)."""
    from collect.rewards import aggregate

    margins = verifier.margins([r["question"] for r in records], [r["steps"] for r in records])
    correct = [r["correct"] for r in records]
    questions = [r["question"] for r in records]
    aucs = {}
    for mp in grid:
        last = [aggregate(m, mp)[-1] for m in margins]
        aucs[mp] = within_question_auc(last, correct, questions)
    best = max(grid, key=lambda mp: (round(aucs[mp], 4), -mp))
    return best, aucs


def evaluate_verifier(verifier, records: list[dict]) -> dict:
    """:func:`collect.family.metrics.verifier_metrics` pooled over ``records`` and per ``policy``, with
    the median over policies of the within-question AUC (the acceptance figure of the family)."""
    scores = verifier_scores(verifier, records)
    pooled = verifier_metrics(scores, records)
    per = {}
    for name in dict.fromkeys(r["policy"] for r in records):
        ix = [i for i, r in enumerate(records) if r["policy"] == name]
        per[name] = verifier_metrics([scores[i] for i in ix], [records[i] for i in ix])
    wq = [m["within_question_auc"] for m in per.values() if not np.isnan(m["within_question_auc"])]
    pooled["within_question_auc_median_over_policies"] = float(np.median(wq)) if wq else float("nan")
    return {"pooled": pooled, "by_policy": per}


__all__ = ["VERIFIER_NAME", "MIN_P_GRID", "Recipe", "choose_min_p", "evaluate_verifier", "verifier_scores"]

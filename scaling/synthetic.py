"""Synthetic sample tables drawn from a known law, with their exact population accuracies.

Used to test that fits and extrapolations recover what generated the data, and handy in notebooks.
The generator is meant to look like real sampling data, not like the models fitted to it:

* **heavy-tailed difficulty.**  Each problem's probability of a correct answer is
  ``p_i = sigmoid(skill(N) - d_i)`` with ``d_i`` Student-t distributed (3 degrees of freedom, scale
  ``difficulty_scale``), and a share ``impossible`` of problems is never solved (``p_i = 0``);
* **many wrong answers.**  Wrong answers come from ``5-60`` classes per problem with Zipf-like
  (Dirichlet(0.3)) probabilities, so a popular wrong answer often out-votes a rare right one;
  a share ``null_rate`` of solutions has no extractable answer;
* **a noisy reward.**  On the logit scale a solution's reward is
  ``z = mu_i + sep * correct + c_ij + e``: a problem effect ``mu_i ~ N(0, 1)``, a separation ``sep``,
  a per-wrong-class effect ``c_ij ~ N(0, class_sd)`` (convincing wrong answers) and logistic noise
  ``e`` with scale ``noise`` (heavier tails than normal); ``reward = sigmoid(z)``.

:func:`population_accuracy` computes what each strategy reaches at k draws from the *population* (the
true answer and reward distributions of the same problems), by exact formula for pass@k and by Monte
Carlo with many replicate draws for the voting strategies and best-of-n.

>>> from scaling.synthetic import make_world, sample_table
>>> world = make_world(n_problems=50, seed=1)
>>> table = sample_table(world, n_samples=8, seed=2)
>>> sorted(table.columns)[:4]
['answer', 'correct', 'difficulty', 'gen_tokens']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["World", "make_world", "draw", "sample_table", "population_accuracy", "family_table"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class World:
    """True per-problem answer and reward distributions of one model on one task.

    ``probs`` is (P, 2 + W): column 0 the correct answer, column 1 a null answer, columns 2.. the
    wrong answer classes.  ``loc`` is the logit-scale reward location per class, ``noise`` the
    logistic noise scale, ``tokens`` the mean generated tokens per solution.
    """

    task: str
    model: str
    params: float
    probs: np.ndarray
    loc: np.ndarray
    noise: float
    tokens: np.ndarray
    difficulty: np.ndarray
    noise_dist: str = "logistic"

    @property
    def n_problems(self) -> int:
        return self.probs.shape[0]

    @property
    def p_correct(self) -> np.ndarray:
        return self.probs[:, 0]


def make_world(n_problems: int = 300, skill: float = 0.0, *, seed: int = 0, difficulty_scale: float = 1.6,
               impossible: float = 0.08, n_wrong: tuple[int, int] = (5, 60), null_rate: float = 0.05,
               sep: float = 1.0, class_sd: float = 0.7, noise: float = 0.8, noise_dist: str = "logistic",
               task: str = "synthetic",
               model: str = "synth", params: float = 1e9, tokens: float = 300.0,
               problem_seed: int | None = None) -> World:
    """Draw the true answer and reward distributions of ``n_problems`` problems.

    ``problem_seed`` fixes the problems (difficulty, wrong-answer structure, reward effects) so that
    several models of one family share them; ``seed`` then only matters where it is used.
    """
    rng = np.random.default_rng(seed if problem_seed is None else problem_seed)
    d = difficulty_scale * rng.standard_t(3, size=n_problems)
    imp = rng.random(n_problems) < impossible
    n_w = rng.integers(n_wrong[0], n_wrong[1] + 1, size=n_problems)
    w_max = int(n_wrong[1])
    gam = rng.gamma(0.3, size=(n_problems, w_max))
    gam[np.arange(w_max)[None, :] >= n_w[:, None]] = 0.0
    gam[:, 0] += 1e-12
    wrong_share = gam / gam.sum(axis=1, keepdims=True)
    mu = rng.normal(0.0, 1.0, size=n_problems)
    cls_eff = rng.normal(0.0, class_sd, size=(n_problems, w_max))
    tok_scale = rng.lognormal(0.0, 0.3, size=n_problems)
    p = np.where(imp, 0.0, _sigmoid(skill - d))
    probs = np.zeros((n_problems, 2 + w_max))
    probs[:, 0] = p
    probs[:, 1] = (1 - p) * null_rate
    probs[:, 2:] = ((1 - p) * (1 - null_rate))[:, None] * wrong_share
    loc = np.zeros_like(probs)
    loc[:, 0] = mu + sep
    loc[:, 1] = mu - 1.0
    loc[:, 2:] = mu[:, None] + cls_eff
    if noise_dist not in ("logistic", "normal"):
        raise ValueError(f"noise_dist must be 'logistic' or 'normal', got {noise_dist!r}")
    return World(task=task, model=model, params=float(params), probs=probs, loc=loc, noise=float(noise),
                 tokens=tokens * tok_scale, difficulty=d, noise_dist=noise_dist)


def draw(world: World, k: int, rng: np.random.Generator, rows: np.ndarray | None = None):
    """k i.i.d. solutions for each problem (or ``rows``): (class (P, k) int, reward (P, k) float)."""
    probs = world.probs if rows is None else world.probs[rows]
    loc = world.loc if rows is None else world.loc[rows]
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0 + 1e-12
    u = rng.random((probs.shape[0], k))
    cls = np.empty((probs.shape[0], k), dtype=np.int64)
    for i in range(probs.shape[0]):  # searchsorted is per row; P is small
        cls[i] = np.searchsorted(cdf[i], u[i], side="right")
    cls = np.minimum(cls, probs.shape[1] - 1)
    if world.noise_dist == "normal":
        e = rng.normal(0.0, world.noise, size=cls.shape)
    else:
        e = rng.logistic(0.0, world.noise, size=cls.shape)
    z = np.take_along_axis(loc, cls, axis=1) + e
    return cls, _sigmoid(z)


def sample_table(world: World, n_samples: int = 64, *, seed: int = 0, method: str = "sample") -> pd.DataFrame:
    """A sample table (the project's schema) with ``n_samples`` solutions per problem."""
    rng = np.random.default_rng(seed)
    cls, rew = draw(world, n_samples, rng)
    p = world.n_problems
    toks = rng.poisson(np.repeat(world.tokens[:, None], n_samples, axis=1)).clip(1)
    answer = np.where(cls == 0, "right", np.char.add("w", cls.astype(str))).astype(object)
    answer[cls == 1] = None
    pid = np.repeat(np.arange(p), n_samples)
    diff = np.where(world.difficulty > np.median(world.difficulty), "hard", "easy")
    return pd.DataFrame({
        "task": world.task, "problem_id": [f"p{i:04d}" for i in pid], "model": world.model,
        "params": world.params, "method": method, "sample_id": np.tile(np.arange(n_samples), p),
        "answer": answer.ravel(), "correct": (cls == 0).ravel(), "gen_tokens": toks.ravel().astype(np.int64),
        "reward": rew.ravel(), "difficulty": diff[pid],
    })


def _vote_acc(cls: np.ndarray, weight: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-row accuracy of (weighted) voting with ties split; class 1 (null) never wins."""
    r, k = cls.shape
    flat = (np.arange(r)[:, None] * n_classes + cls).ravel()
    mass = np.bincount(flat, weights=weight.ravel(), minlength=r * n_classes).reshape(r, n_classes)
    mass[:, 1] = -np.inf
    present = np.bincount(flat, minlength=r * n_classes).reshape(r, n_classes) > 0
    mass[~present] = -np.inf
    top = mass.max(axis=1, keepdims=True)
    tied = (mass == top) & np.isfinite(top)
    n_tied = tied.sum(axis=1)
    return np.where(n_tied > 0, tied[:, 0] / np.maximum(n_tied, 1), 0.0)


def population_accuracy(world: World, k: int, *, reps: int = 64, seed: int = 12345,
                        chunk_elems: int = 4_000_000) -> dict[str, float]:
    """Expected accuracy at k draws from the true distributions, for every strategy.

    pass@k is exact (``1 - (1 - p_i)^k`` averaged over problems); majority, weighted majority and
    best-of-n are Monte-Carlo means over ``reps`` replicate draws of k solutions per problem.
    Returns a mapping strategy -> accuracy (and ``<strategy>_se`` for the Monte-Carlo ones).
    """
    rng = np.random.default_rng(seed)
    p = world.p_correct
    out = {"pass_at_k": float(np.mean(1 - (1 - p) ** k))}
    n_classes = world.probs.shape[1]
    per_rows = max(1, chunk_elems // max(k, 1))
    acc = {"majority": [], "weighted_majority": [], "best_of_n": []}
    rows_all = np.repeat(np.arange(world.n_problems), reps)
    for start in range(0, len(rows_all), per_rows):
        rows = rows_all[start:start + per_rows]
        cls, rew = draw(world, k, rng, rows)
        acc["majority"].append(_vote_acc(cls, np.ones_like(rew), n_classes))
        acc["weighted_majority"].append(_vote_acc(cls, rew, n_classes))
        best = np.argmax(rew, axis=1)
        acc["best_of_n"].append((cls[np.arange(len(rows)), best] == 0).astype(float))
    for name, parts in acc.items():
        a = np.concatenate(parts).reshape(world.n_problems, reps)
        out[name] = float(a.mean())
        out[name + "_per_problem"] = a.mean(axis=1)
        out[name + "_se"] = float(np.sqrt(a.var(axis=1, ddof=1).sum() / reps) / world.n_problems)
    out["pass_at_k_per_problem"] = 1 - (1 - p) ** k
    return out


def family_table(sizes: dict[str, float] | None = None, *, n_problems: int = 200, n_samples: int = 64,
                 task: str = "synthetic", seed: int = 0, tokens: float = 300.0) -> pd.DataFrame:
    """Sample tables of a model family sharing one problem set; skill grows with log params.

    ``skill(N) = 1.2 * log10(N / 1e9)``.  Returns the concatenated table.
    """
    sizes = sizes or {"s-410m": 4.1e8, "s-1.4b": 1.4e9, "s-2.8b": 2.8e9, "s-6.9b": 6.9e9, "s-12b": 1.2e10}
    frames = []
    for j, (name, n) in enumerate(sizes.items()):
        w = make_world(n_problems, skill=1.2 * np.log10(n / 1e9), problem_seed=seed, task=task, model=name,
                       params=n, tokens=tokens)
        frames.append(sample_table(w, n_samples, seed=seed * 1000 + j + 1))
    return pd.concat(frames, ignore_index=True)

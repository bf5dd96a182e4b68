"""Synthetic sample tables drawn from a known law, with their exact population accuracies.

Used to test that fits and extrapolations recover what generated the data, and handy in notebooks.
The generator is meant to look like real sampling data, not like the models fitted to it:

* **heavy-tailed difficulty.**  By default each problem's probability of a correct answer is
  ``p_i = sigmoid(skill(N) - d_i)`` with ``d_i`` Student-t distributed (3 degrees of freedom, scale
  ``difficulty_scale``), and a share ``impossible`` of problems is never solved (``p_i = 0``).  Other
  shapes via ``success=``: ``{"kind": "beta", "a": .35, "b": 1.2}`` (a power-law left tail, the shape
  behind the power laws of repeated sampling), ``{"kind": "logit_t", "df": 2, "scale": 2}``,
  ``{"kind": "logit_normal", "scale": 1.5}`` (light tails) and ``{"kind": "mixture", "parts": [(w, spec),
  ...]}``; ``skill`` shifts every shape on the logit scale;
* **many wrong answers.**  Wrong answers come from ``5-60`` classes per problem with Zipf-like
  (Dirichlet(0.3), or exact Zipf ``rank^-zipf``) probabilities, so a popular wrong answer often
  out-votes a rare right one; a share ``null_rate`` of solutions has no extractable answer;
* **a noisy reward.**  On the logit scale a solution's reward is
  ``z = mu_i + sep * correct + c_ij + e``: a problem effect ``mu_i ~ N(0, 1)``, a separation ``sep``,
  a per-wrong-class effect ``c_ij ~ N(0, class_sd)`` (convincing wrong answers) and noise ``e`` with
  scale ``noise`` (``noise_right`` for right solutions) from ``noise_dist`` (logistic, normal,
  Student-t_4 or Gumbel).  ``reward="sigmoid"`` reports ``sigmoid(z)``, ``"logit"`` reports ``z``,
  ``"prm_min"`` imitates a process reward model aggregated by ``min``: ``S_i`` steps (``steps`` range)
  each scored ``sigmoid(z + eps_j)``, ``eps_j ~ N(0, step_sd)``, and the reward is their minimum.

Every truth is computed from the *population* (the true answer and reward distributions of the same
problems), never from the cached samples: pass@k exactly (``1 - (1 - p_i)^k``), best-of-k exactly by
quadrature over the reward distributions (:func:`exact_best_of_n`), majority and weighted majority by
Monte Carlo with many fresh replicate draws (:func:`population_accuracy`).

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
from scipy import special

__all__ = ["World", "make_world", "draw", "sample_table", "population_accuracy", "exact_best_of_n",
           "family_table", "NOISE_DISTS", "REWARD_KINDS"]

NOISE_DISTS = ("logistic", "normal", "t4", "gumbel")
REWARD_KINDS = ("sigmoid", "logit", "prm_min")
_EULER = 0.5772156649015329


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _noise_cdf(x: np.ndarray, dist: str) -> np.ndarray:
    """CDF of the unit-scale noise (centred Gumbel: mean 0)."""
    if dist == "logistic":
        return special.expit(x)
    if dist == "normal":
        return special.ndtr(x)
    if dist == "t4":  # closed form of the Student-t_4 CDF (much faster than special.stdtr)
        s = x / np.sqrt(4.0 + x * x)
        return 0.5 + 0.75 * (s - s ** 3 / 3.0)
    return np.exp(-np.exp(-(x + _EULER)))


def _noise_ppf(u: np.ndarray, dist: str) -> np.ndarray:
    if dist == "logistic":
        return special.logit(u)
    if dist == "normal":
        return special.ndtri(u)
    if dist == "t4":  # closed form of the Student-t_4 quantile
        a = 4.0 * u * (1.0 - u)
        q = np.cos(np.arccos(np.sqrt(a)) / 3.0) / np.sqrt(a)
        return np.sign(u - 0.5) * 2.0 * np.sqrt(np.maximum(q - 1.0, 0.0))
    return -np.log(-np.log(u)) - _EULER


def _noise_draw(rng: np.random.Generator, dist: str, size) -> np.ndarray:
    if dist == "logistic":
        return rng.logistic(0.0, 1.0, size=size)
    if dist == "normal":
        return rng.standard_normal(size)
    if dist == "t4":
        return rng.standard_t(4, size=size)
    return rng.gumbel(-_EULER, 1.0, size=size)


@dataclass
class World:
    """True per-problem answer and reward distributions of one model on one task.

    ``probs`` is (P, 2 + W): column 0 the correct answer, column 1 a null answer, columns 2.. the
    wrong answer classes.  ``loc`` is the logit-scale reward location per class, ``noise`` the noise
    scale of wrong (and null) solutions, ``noise_right`` that of right ones, ``tokens`` the mean
    generated tokens per solution.  ``reward_kind`` says what the reward column holds (see the module
    docstring); ``steps`` (P,) and ``step_sd`` describe the process-reward steps of ``prm_min``.
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
    noise_right: float | None = None
    reward_kind: str = "sigmoid"
    steps: np.ndarray | None = None
    step_sd: float = 0.0

    @property
    def n_problems(self) -> int:
        return self.probs.shape[0]

    @property
    def p_correct(self) -> np.ndarray:
        return self.probs[:, 0]

    def _scale(self) -> np.ndarray:
        """(2 + W,) noise scale of each class column."""
        s = np.full(self.probs.shape[1], self.noise)
        s[0] = self.noise if self.noise_right is None else self.noise_right
        return s

    # --- the distribution of the logit-scale score y = z (+ min of step noise for prm_min) ---------
    def _prm_table(self, scale: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Offsets x and CDF of ``scale * e + min_{j < S} N(0, step_sd)`` on a fine grid (cached)."""
        cache = self.__dict__.setdefault("_tables", {})
        key = (float(scale), int(n_steps))
        if key not in cache:
            sd = self.step_sd
            m = np.linspace(-6.0 * sd, 3.0 * sd, 801)
            dm = m[1] - m[0]
            fm = n_steps * special.ndtr(-m / sd) ** (n_steps - 1) * np.exp(-0.5 * (m / sd) ** 2) / (
                sd * np.sqrt(2 * np.pi)) * dm
            fm /= fm.sum()
            lo = float(_noise_ppf(np.array(1e-13), self.noise_dist)) * scale - 6.0 * sd
            hi = float(_noise_ppf(np.array(1 - 1e-13), self.noise_dist)) * scale + 3.0 * sd
            x = np.linspace(lo, hi, 6001)
            F = np.zeros_like(x)
            for lo_j in range(0, len(m), 100):
                mm = m[lo_j:lo_j + 100]
                F += (_noise_cdf((x[:, None] - mm[None, :]) / scale, self.noise_dist) * fm[lo_j:lo_j + 100]).sum(1)
            F = np.maximum.accumulate(np.clip(F, 0.0, 1.0))
            cache[key] = (x, F)
        return cache[key]

    def score_cdf(self, row: int, t: np.ndarray) -> np.ndarray:
        """(C, T) CDF of the logit-scale score of each class of problem ``row`` at points ``t``."""
        s = self._scale()[:, None]
        x = (np.asarray(t, float)[None, :] - self.loc[row][:, None])
        if self.reward_kind != "prm_min":
            return _noise_cdf(x / s, self.noise_dist)
        out = np.empty(x.shape)
        for j, sc in enumerate(self._scale()):
            xs, F = self._prm_table(sc, int(self.steps[row]))
            out[j] = np.interp(x[j], xs, F, left=0.0, right=1.0)
        return out

    def score_ppf(self, row: int, u: np.ndarray) -> np.ndarray:
        """(C, U) quantiles of the logit-scale score of each class of problem ``row``."""
        u = np.asarray(u, float)
        if self.reward_kind != "prm_min":
            return self.loc[row][:, None] + self._scale()[:, None] * _noise_ppf(u, self.noise_dist)[None, :]
        out = np.empty((self.probs.shape[1], len(u)))
        for j, sc in enumerate(self._scale()):
            xs, F = self._prm_table(sc, int(self.steps[row]))
            keep = np.concatenate([[True], np.diff(F) > 0])
            out[j] = self.loc[row, j] + np.interp(u, F[keep], xs[keep])
        return out

    def draw_scores(self, rows: np.ndarray, cls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Logit-scale scores of solutions of classes ``cls`` (R, k) on problems ``rows`` (R,)."""
        loc = np.take_along_axis(self.loc[rows], cls, axis=1)
        scale = self._scale()[cls]
        e = _noise_draw(rng, self.noise_dist, cls.shape)
        y = loc + scale * e
        if self.reward_kind == "prm_min":
            S = self.steps[rows]
            mins = np.full(cls.shape, np.inf)
            for j in range(int(S.max())):
                eps = rng.normal(0.0, self.step_sd, size=cls.shape)
                mins = np.where((j < S)[:, None], np.minimum(mins, eps), mins)
            y = y + mins
        return y

    def reward_of(self, y: np.ndarray) -> np.ndarray:
        """The reward column for logit-scale scores ``y``."""
        return y if self.reward_kind == "logit" else _sigmoid(y)


def _draw_success(spec: dict | None, n: int, skill: float, difficulty_scale: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem success rates p (before impossible problems) and a difficulty score d (higher: harder)."""
    if spec is None:  # the original generator: logit-t_3 difficulty
        d = difficulty_scale * rng.standard_t(3, size=n)
        return _sigmoid(skill - d), d
    kind = spec.get("kind")
    if kind == "logit_t":
        d = spec.get("scale", difficulty_scale) * rng.standard_t(spec.get("df", 3.0), size=n)
        return _sigmoid(skill - d), d
    if kind == "logit_normal":
        d = spec.get("scale", difficulty_scale) * rng.standard_normal(n)
        return _sigmoid(skill - d), d
    if kind == "beta":
        p0 = np.clip(rng.beta(spec["a"], spec["b"], size=n), 1e-300, 1 - 1e-16)
        z = special.logit(p0) + skill
        return _sigmoid(z), -z
    if kind == "mixture":
        parts = spec["parts"]
        w = np.array([float(p[0]) for p in parts])
        comp = rng.choice(len(parts), size=n, p=w / w.sum())
        p = np.empty(n)
        d = np.empty(n)
        for j, (_, sub) in enumerate(parts):
            sel = comp == j
            p[sel], d[sel] = _draw_success(sub, int(sel.sum()), skill, difficulty_scale, rng)
        return p, d
    raise ValueError(f"success kind must be logit_t, logit_normal, beta or mixture, got {kind!r}")


def make_world(n_problems: int = 300, skill: float = 0.0, *, seed: int = 0, difficulty_scale: float = 1.6,
               impossible: float = 0.08, n_wrong: tuple[int, int] = (5, 60), null_rate: float = 0.05,
               sep: float = 1.0, class_sd: float = 0.7, noise: float = 0.8, noise_dist: str = "logistic",
               task: str = "synthetic", model: str = "synth", params: float = 1e9, tokens: float = 300.0,
               problem_seed: int | None = None, success: dict | None = None, zipf: float | None = None,
               noise_right: float | None = None, reward: str = "sigmoid", steps: tuple[int, int] = (3, 8),
               step_sd: float = 0.7) -> World:
    """Draw the true answer and reward distributions of ``n_problems`` problems.

    ``problem_seed`` fixes the problems (difficulty, wrong-answer structure, reward effects) so that
    several models of one family share them; ``seed`` then only matters where it is used.  ``success``
    picks the shape of the success-rate distribution (module docstring; default logit-t_3), ``zipf``
    makes wrong-answer shares exactly ``rank^-zipf`` (default Dirichlet(0.3)), ``reward`` and
    ``noise_dist`` pick the reward model.  The defaults reproduce the original generator draw for draw.
    """
    if noise_dist not in NOISE_DISTS:
        raise ValueError(f"noise_dist must be one of {NOISE_DISTS}, got {noise_dist!r}")
    if reward not in REWARD_KINDS:
        raise ValueError(f"reward must be one of {REWARD_KINDS}, got {reward!r}")
    rng = np.random.default_rng(seed if problem_seed is None else problem_seed)
    p, d = _draw_success(success, n_problems, skill, difficulty_scale, rng)
    imp = rng.random(n_problems) < impossible
    n_w = rng.integers(n_wrong[0], n_wrong[1] + 1, size=n_problems)
    w_max = int(n_wrong[1])
    if zipf is None:
        gam = rng.gamma(0.3, size=(n_problems, w_max))
    else:
        gam = np.arange(1, w_max + 1, dtype=float)[None, :] ** -float(zipf) * np.ones((n_problems, 1))
    gam[np.arange(w_max)[None, :] >= n_w[:, None]] = 0.0
    gam[:, 0] += 1e-12
    wrong_share = gam / gam.sum(axis=1, keepdims=True)
    mu = rng.normal(0.0, 1.0, size=n_problems)
    cls_eff = rng.normal(0.0, class_sd, size=(n_problems, w_max))
    tok_scale = rng.lognormal(0.0, 0.3, size=n_problems)
    p = np.where(imp, 0.0, p)
    probs = np.zeros((n_problems, 2 + w_max))
    probs[:, 0] = p
    probs[:, 1] = (1 - p) * null_rate
    probs[:, 2:] = ((1 - p) * (1 - null_rate))[:, None] * wrong_share
    loc = np.zeros_like(probs)
    loc[:, 0] = mu + sep
    loc[:, 1] = mu - 1.0
    loc[:, 2:] = mu[:, None] + cls_eff
    n_steps = rng.integers(steps[0], steps[1] + 1, size=n_problems) if reward == "prm_min" else None
    return World(task=task, model=model, params=float(params), probs=probs, loc=loc, noise=float(noise),
                 tokens=tokens * tok_scale, difficulty=d, noise_dist=noise_dist,
                 noise_right=None if noise_right is None else float(noise_right), reward_kind=reward,
                 steps=n_steps, step_sd=float(step_sd))


def _draw_classes(probs: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0 + 1e-12
    u = rng.random((probs.shape[0], k))
    cls = np.empty((probs.shape[0], k), dtype=np.int64)
    for i in range(probs.shape[0]):  # searchsorted is per row; P is small
        cls[i] = np.searchsorted(cdf[i], u[i], side="right")
    return np.minimum(cls, probs.shape[1] - 1)


def draw(world: World, k: int, rng: np.random.Generator, rows: np.ndarray | None = None):
    """k i.i.d. solutions for each problem (or ``rows``): (class (P, k) int, reward (P, k) float)."""
    rows = np.arange(world.n_problems) if rows is None else np.asarray(rows)
    cls = _draw_classes(world.probs[rows], k, rng)
    if (world.reward_kind == "sigmoid" and world.noise_dist == "logistic" and world.noise_right is None):
        # the original generator's draw order (kept so seeded tables do not change)
        z = np.take_along_axis(world.loc[rows], cls, axis=1) + rng.logistic(0.0, world.noise, size=cls.shape)
        return cls, _sigmoid(z)
    if world.reward_kind == "sigmoid" and world.noise_dist == "normal" and world.noise_right is None:
        z = np.take_along_axis(world.loc[rows], cls, axis=1) + rng.normal(0.0, world.noise, size=cls.shape)
        return cls, _sigmoid(z)
    return cls, world.reward_of(world.draw_scores(rows, cls, rng))


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
    present = np.bincount(flat, minlength=r * n_classes).reshape(r, n_classes) > 0
    return _vote_mass(mass, present)


def _vote_mass(mass: np.ndarray, present: np.ndarray) -> np.ndarray:
    mass = np.where(present, mass, -np.inf)
    mass[:, 1] = -np.inf
    top = mass.max(axis=1, keepdims=True)
    tied = (mass == top) & np.isfinite(top)
    n_tied = tied.sum(axis=1)
    return np.where(n_tied > 0, tied[:, 0] / np.maximum(n_tied, 1), 0.0)


def exact_best_of_n(world: World, ks, rows: np.ndarray | None = None, n_levels: int = 100) -> dict[int, np.ndarray]:
    """Exact per-problem best-of-k accuracy from the population reward distributions.

    With class probabilities q_c and score CDFs F_c of problem i, ``H = sum_c q_c F_c`` and
    ``P(best of k is right) = int q_0 dF_0 k H^(k-1) = sum_cells (H(t_j+1)^k - H(t_j)^k) * q_0 dF_0 / dH``,
    on a grid that is the union of every class's quantiles (levels dense near 0 and 1, down to 1e-13),
    so each class's tail is resolved whatever its shape.  Continuous scores: no ties.  Returns
    ``{k: (P,) array}``.
    """
    rows = np.arange(world.n_problems) if rows is None else np.asarray(rows)
    ks = [int(k) for k in np.atleast_1d(ks)]
    tail = np.logspace(-13, np.log10(0.02), n_levels // 2)
    levels = np.unique(np.concatenate([tail, np.linspace(0.02, 0.98, n_levels // 4), 1 - tail]))
    out = {k: np.zeros(len(rows)) for k in ks}
    for j, i in enumerate(rows):
        q = world.probs[i]
        if q[0] <= 0:
            continue
        live = np.flatnonzero(q > 1e-10)
        t = np.unique(world.score_ppf(i, levels)[live].ravel())
        t = t[np.isfinite(t)]
        F = world.score_cdf(i, t)
        H = np.clip((q[live, None] * F[live]).sum(axis=0) / q[live].sum(), 0.0, 1.0)
        H = np.concatenate([[0.0], H, [1.0]])
        F0 = np.concatenate([[0.0], F[0], [1.0]])
        dH = np.diff(H)
        share = np.divide(q[0] / q[live].sum() * np.diff(F0), dH, out=np.zeros_like(dH), where=dH > 1e-300)
        share = np.clip(share, 0.0, 1.0)
        logH = np.log(np.maximum(H, 1e-300))
        for k in ks:
            out[k][j] = float((np.diff(np.exp(k * logH)) * share).sum())
    return out


def population_accuracy(world: World, k: int, *, reps: int = 64, seed: int = 12345,
                        chunk_elems: int = 4_000_000, strategies=None) -> dict[str, float]:
    """Expected accuracy at k draws from the true distributions, for every strategy.

    pass@k is exact (``1 - (1 - p_i)^k`` averaged over problems), best-of-n exact by quadrature
    (:func:`exact_best_of_n`); majority and weighted majority are Monte-Carlo means over ``reps``
    fresh replicate draws of k solutions per problem (vote counts drawn from the multinomial, rewards
    from the reward model).  Weighted majority needs non-negative rewards (not ``reward="logit"``).
    Returns a mapping strategy -> accuracy, ``<strategy>_per_problem`` and ``<strategy>_se``.
    """
    rng = np.random.default_rng(seed)
    p = world.p_correct
    strategies = set(("pass_at_k", "majority", "weighted_majority", "best_of_n") if strategies is None else strategies)
    out: dict = {"pass_at_k": float(np.mean(1 - (1 - p) ** k)), "pass_at_k_se": 0.0,
                 "pass_at_k_per_problem": 1 - (1 - p) ** k}
    if "best_of_n" in strategies:
        b = exact_best_of_n(world, [k])[int(k)]
        out.update(best_of_n=float(b.mean()), best_of_n_se=0.0, best_of_n_per_problem=b)
    n_classes = world.probs.shape[1]
    acc: dict[str, list] = {}
    do_w = "weighted_majority" in strategies and world.reward_kind != "logit"
    if "majority" in strategies or do_w:
        rows_all = np.repeat(np.arange(world.n_problems), reps)
        per_rows = max(1, chunk_elems // max(k, 1))
        for start in range(0, len(rows_all), per_rows):
            rows = rows_all[start:start + per_rows]
            counts = rng.multinomial(k, world.probs[rows] / world.probs[rows].sum(axis=1, keepdims=True))
            if "majority" in strategies:
                acc.setdefault("majority", []).append(_vote_mass(counts.astype(float), counts > 0))
            if do_w:
                cls = np.repeat(np.tile(np.arange(n_classes), len(rows)), counts.ravel()).reshape(len(rows), k)
                rew = world.reward_of(world.draw_scores(rows, cls, rng))
                acc.setdefault("weighted_majority", []).append(_vote_acc(cls, rew, n_classes))
    for name, parts in acc.items():
        a = np.concatenate(parts).reshape(world.n_problems, reps)
        out[name] = float(a.mean())
        out[name + "_per_problem"] = a.mean(axis=1)
        out[name + "_se"] = float(np.sqrt(a.var(axis=1, ddof=1).sum() / reps) / world.n_problems)
    if "weighted_majority" in strategies and not do_w:
        out.update(weighted_majority=np.nan, weighted_majority_se=np.nan)
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

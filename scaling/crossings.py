"""Does a smaller model with more samples beat a larger one at equal compute?  (Wu et al., Figs. 1 and 4.)

The paper's headline: at a fixed inference budget, a weaker model drawing more samples can beat a stronger
one, so the accuracy-vs-FLOPs curves of different sizes cross and the compute-optimal size grows with the
budget.  :func:`crossings` measures that on one strategy's **measured** curves (no extrapolation, no fitted
law), one row per (model, k):

* **pairs**: (smaller S, larger L) with ``acc1(L) >= acc1(S) + gap`` (``acc1`` = accuracy at the
  smallest k, i.e. per sample) where S at some k >= ``min_k`` beats L's curve at the same FLOPs.  L's
  accuracy at S's FLOPs is interpolated linearly in log FLOPs between L's measured points, and only
  where S's FLOPs lie inside L's measured range; ``gain`` is S's best margin over such k, and a pair
  *wins* when ``gain >= win``;
* **budget grid**: ``n_budgets`` budgets log-spaced from the cheapest first point to the dearest point.
  At each budget B the best configuration is the most accurate measured point with FLOPs <= B (ties to
  the cheaper); the budget is *won by a weaker model* when that point has k >= ``min_k`` and its model's
  ``acc1`` is at least ``gap`` below that of the strongest model affordable at its smallest k;
* **optimal sizes**: the sizes that are best at some budget, and Spearman's rank correlation of budget
  with the best size's parameters (the paper's compute-optimal size grows with the budget:
  N_opt ~ C^0.84).

Assumes one task and one strategy (select them first) and accuracies measured on the same problems.

>>> import pandas as pd
>>> c = pd.DataFrame({"model": ["s"] * 3 + ["l"] * 3, "params": [1.0] * 3 + [4.0] * 3,
...                   "k": [1, 4, 16] * 2, "flops": [1.0, 4, 16, 4, 16, 64],
...                   "accuracy": [0.3, 0.6, 0.7, 0.4, 0.55, 0.8]})
>>> cr = crossings(c, n_budgets=5)
>>> cr.pairs[["small", "large", "k", "gain"]].round(3).values.tolist()
[['s', 'l', 4, 0.2]]
>>> cr.n_winning_pairs, cr.optimal_sizes
(1, ['s', 'l'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["crossings", "Crossings"]

_REQUIRED = ("model", "params", "k", "flops", "accuracy")


@dataclass(frozen=True)
class Crossings:
    """What :func:`crossings` measured: the pairs, the budget grid and the thresholds used."""

    pairs: pd.DataFrame          #: small, large, acc1_small, acc1_large, params_ratio, gain, k (one row per pair)
    grid: pd.DataFrame           #: budget, model, params, k, accuracy, strongest_affordable, weaker_wins
    gap: float
    win: float
    min_k: int
    params: dict = field(repr=False, default_factory=dict)

    @property
    def winning_pairs(self) -> pd.DataFrame:
        """Pairs whose smaller model wins by at least ``win``, largest gain first."""
        return self.pairs[self.pairs.gain >= self.win].sort_values("gain", ascending=False)

    @property
    def n_winning_pairs(self) -> int:
        return len(self.winning_pairs)

    @property
    def winning_small_sizes(self) -> list[str]:
        """Distinct smaller models of the winning pairs, by size."""
        return sorted(set(self.winning_pairs.small), key=self.params.get)

    @property
    def weaker_win_share(self) -> float:
        """Share of the grid's budgets won by a weaker model with k >= ``min_k``."""
        return float(self.grid.weaker_wins.mean()) if len(self.grid) else float("nan")

    @property
    def optimal_sizes(self) -> list[str]:
        """Models that are the best choice at some budget of the grid, by size."""
        return sorted(set(self.grid.model), key=self.params.get)

    @property
    def spearman(self) -> float:
        """Spearman's rank correlation of budget with the best configuration's parameters (nan if one size)."""
        from scipy.stats import spearmanr

        if self.grid.params.nunique() < 2:
            return float("nan")
        return float(spearmanr(self.grid.budget, self.grid.params).statistic)

    def to_frame(self) -> pd.DataFrame:
        """The pairs (a tidy table, one row per (smaller, larger) pair)."""
        return self.pairs.copy()

    def summary(self, top: int = 6) -> str:
        """A readable paragraph: winning pairs, the share of budgets a weaker model wins, optimal sizes."""
        best = "; ".join(f"{r.small}@{r.k} vs {r.large} {100 * r.gain:+.1f} points"
                         for r in self.pairs.sort_values("gain", ascending=False).head(top).itertuples())
        return (f"winning pairs (gain >= {100 * self.win:g} points at k >= {self.min_k}): {self.n_winning_pairs} "
                f"over {len(self.winning_small_sizes)} smaller sizes {self.winning_small_sizes}\n"
                f"best pairs: {best or 'none'}\n"
                f"budgets won by a weaker model: {100 * self.weaker_win_share:.0f} % of {len(self.grid)}\n"
                f"compute-optimal sizes: {self.optimal_sizes}; Spearman(budget, size) {self.spearman:.2f}")

    def __str__(self) -> str:
        return self.summary()


def crossings(curves: pd.DataFrame, *, gap: float = 0.03, win: float = 0.03, min_k: int = 4,
              n_budgets: int = 40) -> Crossings:
    """Crossing pairs, budget grid and optimal sizes of one strategy's measured curves (module docstring).

    ``curves``: one row per (model, k) with columns model, params, k, flops, accuracy, e.g.
    ``ev.curves`` of one task, method ``sample`` and strategy ``weighted_majority``.
    """
    missing = [c for c in _REQUIRED if c not in curves]
    if missing:
        raise ValueError(f"crossings: curves lack column(s) {missing}; expected {list(_REQUIRED)} "
                         "(one row per model and k, e.g. Evaluation.curves of one task and strategy)")
    dup = curves.duplicated(["model", "k"])
    if dup.any():
        r = curves[dup].iloc[0]
        raise ValueError(f"crossings: more than one row for model {r.model!r} at k = {r.k} (row {dup.idxmax()}): "
                         "select one task, method and strategy first")
    c = curves.sort_values(["params", "k"])
    by = {m: g for m, g in c.groupby("model", sort=False)}
    params = {m: float(g.params.iloc[0]) for m, g in by.items()}
    models = sorted(by, key=params.get)
    acc1 = {m: float(by[m].accuracy.iloc[0]) for m in models}
    k1 = {m: float(by[m].flops.iloc[0]) for m in models}

    rows = []
    for i, s in enumerate(models):
        small = by[s][by[s].k >= min_k]
        for big in models[i + 1:]:
            if acc1[big] < acc1[s] + gap:
                continue
            lf, la = np.log(by[big].flops.to_numpy(float)), by[big].accuracy.to_numpy(float)
            x = np.log(small.flops.to_numpy(float))
            inside = (x >= lf[0]) & (x <= lf[-1])
            if not inside.any():
                continue
            g = small.accuracy.to_numpy(float)[inside] - np.interp(x[inside], lf, la)
            j = int(np.argmax(g))
            rows.append({"small": s, "large": big, "acc1_small": acc1[s], "acc1_large": acc1[big],
                         "params_ratio": params[big] / params[s], "gain": float(g[j]),
                         "k": int(small.k.to_numpy()[inside][j])})
    pairs = pd.DataFrame(rows, columns=["small", "large", "acc1_small", "acc1_large", "params_ratio", "gain", "k"])

    budgets = np.geomspace(min(k1.values()), float(c.flops.max()), n_budgets)
    order = c.sort_values(["accuracy", "flops"], ascending=[False, True])
    grid = []
    for b in budgets:
        top = order[order.flops <= b * (1 + 1e-9)].iloc[0]
        strongest = max((m for m in models if k1[m] <= b * (1 + 1e-9)), key=acc1.get)
        grid.append({"budget": float(b), "model": top.model, "params": float(top.params), "k": int(top.k),
                     "accuracy": float(top.accuracy), "strongest_affordable": strongest,
                     "weaker_wins": bool(top.k >= min_k and acc1[top.model] + gap <= acc1[strongest])})
    return Crossings(pairs=pairs, grid=pd.DataFrame(grid), gap=gap, win=win, min_k=min_k, params=params)

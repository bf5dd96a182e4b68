"""Names shown to people: the strategies' display names, a model size label, a file-name slug.

One definition each, imported by the command line, the laws summary, the plots and the notebook helpers
(the strategy codes themselves, :data:`scaling.schema.STRATEGIES`, belong to the table contract).

>>> size_label(6.9e9), size_label(65_000), slug("math/level 5")
('6.9B', '65k', 'math_level_5')
"""

from __future__ import annotations

__all__ = ["STRATEGY_NAMES", "STRATEGY_SHORT", "METHOD_NAMES", "size_label", "slug"]

#: Long names of the strategies (figure titles, summaries).
STRATEGY_NAMES = {"majority": "majority voting", "weighted_majority": "weighted majority voting",
                  "best_of_n": "best-of-n", "pass_at_k": "coverage (pass@k)", "greedy": "greedy"}
#: Short names of the strategies (legends, the paper's table columns).
STRATEGY_SHORT = {"majority": "MV", "weighted_majority": "WV", "best_of_n": "BoN", "pass_at_k": "pass@k",
                  "greedy": "greedy"}
#: Display names of the generation methods.
METHOD_NAMES = {"sample": "sampling", "rebase": "REBASE", "mcts": "MCTS", "greedy": "greedy"}


def size_label(params: float) -> str:
    """A parameter count as people write it: three significant digits and k / M / B ('410M', '6.9B',
    '65k'); below a thousand the plain number."""
    p = float(params)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if p >= div:
            return f"{p / div:.3g}{suffix}"
    return f"{p:.3g}"


def slug(text: object) -> str:
    """``text`` as a file-name part: letters, digits, ``-``, ``_`` and ``.`` kept, anything else ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text))

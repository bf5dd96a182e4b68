"""Tree search over solution steps with a process reward model: REBASE and MCTS (Wu et al. 2025).

Modules: :mod:`.tree` (nodes, token accounting, export), :mod:`.expand` (policy + reward expander, the
batched driver), :mod:`.rebase` (allocation rule and search loop), :mod:`.mcts` (UCT search),
:mod:`.run` (searches over a task into sample tables and tree files, resumable), :mod:`.cli`
(``python -m collect search``).

>>> from collect.search import Rebase, Tree, allocate
>>> allocate([0.9, 0.5], 4).tolist()
[4, 0]
"""

from .expand import Expander, ModelExpander, Search, drive
from .mcts import MCTS
from .rebase import Rebase, allocate
from .tree import Node, Tree

__all__ = ["Tree", "Node", "Search", "Expander", "ModelExpander", "drive", "Rebase", "allocate", "MCTS"]

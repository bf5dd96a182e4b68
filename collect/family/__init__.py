"""The bundled model family: a generated arithmetic task, a character tokenizer, five GPT-NeoX (Pythia
architecture) policies of 19k to 1.0M parameters trained with one recipe, and a process reward model.

Modules: :mod:`~collect.family.task` (problems, reference solutions, step checker),
:mod:`~collect.family.tokenizer`, :mod:`~collect.family.model` (sizes), :mod:`~collect.family.train`
(recipe, greedy evaluation), :mod:`~collect.family.prm` (step labels, PRM training and evaluation),
:mod:`~collect.family.collection` (sampling, PRM scoring, REBASE/MCTS with the toolkit's commands, shipped
tables), :mod:`~collect.family.build` (``python -m collect.family build`` rebuilds everything from seeds).

Shipped: ``data/tasks/arith.jsonl`` (500 test problems) and ``data/models/arith-neox-{20k,65k,160k,460k,1m}``
plus ``data/models/arith-prm-460k``. Prompt format of the policies: question, newline, then the solution
(``python -m collect sample --template raw``).
"""

"""The bundled model family: a generated arithmetic task whose terms may be added in any order, a
character tokenizer, nine GPT-NeoX (Pythia architecture) policies of 32k to 1.6M parameters, every head 32
wide, all trained for the same 4000 steps on the same examples (the Pythia setting), and a larger verifier
(1.9M) read as a likelihood process reward model.

Modules: :mod:`~collect.family.task` (problems, random solution paths, step checker),
:mod:`~collect.family.tokenizer`, :mod:`~collect.family.model` (sizes), :mod:`~collect.family.train`
(recipe, schedule, greedy evaluation), :mod:`~collect.family.verifier` (the verifier, its min-p
choice and evaluation), :mod:`~collect.family.metrics` (verifier metrics shared with the step-tag PRM),
:mod:`~collect.family.prm` (the Math-Shepherd-style step-tag PRM, kept for comparison),
:mod:`~collect.family.collection` (sampling, verifier scores, REBASE/MCTS with the toolkit's commands,
shipped tables), :mod:`~collect.family.build` (``python -m collect.family build`` rebuilds everything from
seeds).

Shipped: ``data/tasks/arith.jsonl`` (500 test problems, 50 per level 1..10),
``data/models/arith-neox-*`` (the sizes of :data:`collect.family.model.SIZES`) and
``data/models/arith-verifier-1.9m``. Prompt format of
the policies: question, newline, then the solution (``python -m collect sample --template raw``).
"""

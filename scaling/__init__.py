"""Inference scaling laws: accuracy versus inference compute, fitted laws, compute-optimal allocation.

The analysis half of the toolkit.  Pure numpy/scipy/pandas/statsmodels/matplotlib: it never imports
torch, vllm or the ``collect`` package.  One pipeline, used by ``python -m scaling.fit``, the notebooks
and your scripts alike:

>>> import scaling
>>> samples = scaling.read_samples("data/samples/arith-sub100")   # the shipped 20k and 50k, 100 problems
>>> ev = scaling.evaluate(samples, extrapolate=(), n_boot=100)
>>> sorted(ev.curves.method.unique())
['mcts', 'rebase', 'sample']
>>> laws = ev.fit()
>>> best = laws.optimal(1e10)                                     # best configuration at 1e10 FLOPs
>>> best.model, best.method, best.strategy
('arith-neox-163k', 'sample', 'best_of_n')

Names: ``scaling.fit`` is the module of the command ``python -m scaling.fit`` (never a function; import
it to call ``scaling.fit.main([...])``); the fitting verb is :meth:`Evaluation.fit` (or
:func:`scaling.evaluation.fit`, which also takes a sample table).
"""

from . import estimators, flops, matrix
from ._version import __version__
from .evaluation import Evaluation, evaluate, limits
from .fitlaw import fit_law
from .laws import Laws, read_laws
from .samples import from_list_jsonl, read_samples, write_samples
from .schema import SchemaError, validate

__all__ = ["SchemaError", "validate", "read_samples", "write_samples", "from_list_jsonl", "evaluate",
           "Evaluation", "limits", "fit_law", "read_laws", "Laws", "flops", "matrix", "estimators",
           "__version__"]

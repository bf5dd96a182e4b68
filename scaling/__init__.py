"""Inference scaling laws: accuracy versus inference compute, fitted laws, compute-optimal allocation.

The analysis half of the toolkit.  Pure numpy/scipy/pandas/statsmodels/matplotlib: it never imports
torch, vllm or the ``collect`` package.

>>> import scaling
>>> samples = scaling.read_samples("data/samples")     # doctest: +SKIP
>>> curves = scaling.evaluate(samples)                  # doctest: +SKIP
>>> laws = scaling.fit(curves)                          # doctest: +SKIP
>>> laws.optimal(1e14)                                  # doctest: +SKIP
"""

from . import estimators, flops, matrix
from .evaluate import evaluate, limits
from .fitlaw import fit_law
from .laws import Laws, fit, load_law
from .samples import from_list_jsonl, read_samples, write_samples
from .schema import SchemaError, validate

__version__ = "0.1.0"

__all__ = ["SchemaError", "validate", "read_samples", "write_samples", "from_list_jsonl", "evaluate",
           "limits", "fit", "fit_law", "load_law", "Laws", "flops", "matrix", "estimators", "__version__"]

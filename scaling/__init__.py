"""Inference scaling laws: accuracy versus inference compute, fitted laws, compute-optimal allocation.

The analysis half of the toolkit.  Pure numpy/scipy/pandas/statsmodels/matplotlib: it never imports
torch, vllm or the ``collect`` package.

>>> import scaling
>>> samples = scaling.read_samples("data/samples")     # doctest: +SKIP
>>> curves = scaling.evaluate(samples)                  # doctest: +SKIP
"""

from . import estimators, flops, matrix
from .evaluate import evaluate, limits
from .samples import from_list_jsonl, read_samples, write_samples
from .schema import SchemaError, validate

__version__ = "0.1.0"

__all__ = ["SchemaError", "validate", "read_samples", "write_samples", "from_list_jsonl", "evaluate",
           "limits", "flops", "matrix", "estimators", "__version__"]

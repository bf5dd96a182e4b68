"""What every results object of the package shares, so that they are read the same way everywhere.

A results object (:class:`scaling.Evaluation`, :class:`scaling.Laws`, :class:`scaling.curves.CurveFit`,
:class:`scaling.fitlaw.LawFit`, :class:`scaling.allocation.Allocation`, :class:`scaling.frontier.SizeLaw`)
answers the same verbs:

``summary()``                 a readable text report (print it);
``to_frame()``                its numbers as one tidy table (one row per observation, long format);
``conf_int(level=0.95)``      its intervals at ``level`` (a table, or a (low, high) pair for a scalar);
``predict(x, interval=True)`` where it predicts something: the value, or (value, low, high);
``_repr_html_()``             Jupyter shows the summary's first line and :meth:`to_frame` as a table.

Intervals are always named ``level`` (the nominal coverage, 0.95 by default) and reported in columns
``ci_low`` / ``ci_high``.

>>> class Two(Results):
...     def to_frame(self):
...         import pandas as pd
...         return pd.DataFrame({"x": [1, 2]})
...     def summary(self):
...         return "two rows\\nof x"
>>> print(Two()._repr_html_()[:28])
<p><b>two rows</b></p><table
"""

from __future__ import annotations

import html

__all__ = ["Results", "check_level"]


def check_level(level: float) -> float:
    """``level`` as a float in (0, 1); ValueError naming the argument otherwise."""
    try:
        out = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"level must be a number in (0, 1) (e.g. 0.95), got {level!r}") from None
    if not 0.0 < out < 1.0:
        raise ValueError(f"level must be in (0, 1) (e.g. 0.95), got {level!r}")
    return out


class Results:
    """Base of the results objects: subclasses define :meth:`to_frame` and :meth:`summary`."""

    #: Rows of :meth:`to_frame` shown by :meth:`_repr_html_` before pandas elides the middle.
    html_rows = 40

    def to_frame(self):
        """The object's numbers as one tidy table."""
        raise NotImplementedError

    def summary(self) -> str:
        """A readable text report."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        head = html.escape(self.summary().splitlines()[0])
        table = self.to_frame().to_html(max_rows=self.html_rows, float_format=lambda v: f"{v:.4g}",
                                        border=0, index=False)
        return f"<p><b>{head}</b></p>{table}"

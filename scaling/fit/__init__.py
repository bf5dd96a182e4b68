"""The command ``python -m scaling.fit DATA_DIR``; its implementation is :mod:`scaling.cli`.

``scaling.fit`` is this package, whatever was imported before: it is not callable.  To fit laws from
Python use the same pipeline the command runs::

    ev = scaling.evaluate(samples)      # an Evaluation: per-problem values, curves, limits, extrapolations
    laws = ev.fit()                     # scaling.Laws (or scaling.evaluation.fit(ev), which also takes a sample table)
"""

"""``python -m scaling.fit DATA_DIR``: fit inference scaling laws to the sample tables in a directory.

This package only hosts the command (see ``__main__.py``).  The function ``scaling.fit(curves)`` lives
in :mod:`scaling.laws`; because importing this package rebinds the attribute ``scaling.fit`` to the
package, the package itself is made callable and forwards to :func:`scaling.laws.fit`, so
``scaling.fit(curves)`` works whichever of the two a user ends up holding.  Importing it has no other
side effects.
"""

from __future__ import annotations

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from ..laws import fit as _fit

        return _fit(*args, **kwargs)


def main(argv=None) -> int:
    """Run the command line (``python -m scaling.fit --help``)."""
    from .__main__ import main as _main

    return _main(argv)


sys.modules[__name__].__class__ = _CallableModule

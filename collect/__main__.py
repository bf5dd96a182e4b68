"""``python -m collect sample|score|search ...`` (see :mod:`collect.cli`)."""

import sys

from .cli import main

sys.exit(main())

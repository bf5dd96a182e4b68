"""``python -m scaling.fit DATA_DIR [options]``: see :mod:`scaling.cli` (``--help`` lists the options)."""

import sys

from scaling.cli import main

if __name__ == "__main__":
    sys.exit(main())

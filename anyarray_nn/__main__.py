"""``python -m anyarray_nn``: the same command line as ``anyarray-nn``."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())

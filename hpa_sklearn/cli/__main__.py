"""``python -m hpa_sklearn.cli``."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())

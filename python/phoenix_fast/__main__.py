"""``python -m phoenix_fast``: the ``phoenix-fast`` command."""

import sys

from phoenix_fast.cli import main

if __name__ == "__main__":
    sys.exit(main())

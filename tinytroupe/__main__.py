"""``python -m tinytroupe``: the command line (see `tinytroupe.cli`)."""

import sys

from tinytroupe.cli import main

if __name__ == "__main__":
    sys.exit(main())

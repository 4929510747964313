"""Run the benchmark suite: ``python benchmarks/run.py [--quick]``.

Same as ``python -m tinytroupe bench``. See docs/benchmarks.md.
"""

import sys

from tinytroupe.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

"""The benchmark suite: measured speedup, overhead, scale and memory, with targets.

Run it with ``python -m tinytroupe bench [--quick]`` (or ``python benchmarks/run.py``).
Every figure is measured in the same run as its baseline and reported as a ratio,
because the machines it runs on are shared and noisy. See docs/benchmarks.md.
"""

"""The `anymo-sim` command-line application (Typer + rich)."""

import os

# OpenMP threads that finish a parallel region sleep until the next one instead of spinning
# (libgomp spins for a while by default). `generate` runs the simulation's parallel regions
# with Python in between while the store's compression threads share the cores: spinning
# cost ~14 % of its CPU time and ~8 % of its wall time on 2 cores (benchmarks/RESULTS.md).
# libgomp reads this once, when the extension loads, so it is set here, before anything
# imports anymo_sim; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""regkit benchmarks: ``benchmarks/run`` (see README.md in this directory)."""

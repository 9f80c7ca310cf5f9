"""Datasets: the class catalog of the three benchmarks (and, later, their loaders)."""

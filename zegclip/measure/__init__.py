"""Measurements of a model: FLOPs, parameters and throughput (zegclip efficiency, zegclip bench)."""

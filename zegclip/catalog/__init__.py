"""Fixed vocabularies every layer names: the benchmarks and their classes, the mini-world's
words, classes and datasets, and the relationship-descriptor formats. Nothing here imports
another part of zegclip."""

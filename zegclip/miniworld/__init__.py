"""The embedded mini-world: a procedural zero-shot segmentation benchmark and a tiny CLIP."""

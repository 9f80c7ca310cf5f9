"""Reference scores that say whether mini-world transfer is real zero-shot transfer.

- uniform chance: every pixel labelled with a uniformly random class;
- attribute-only oracles: every object pixel labelled with the unseen class that shares
  its colour word (or its texture word), other pixels with their true class (unseen stuff,
  which shares no word, with a seen stuff class). A model
  that knows one attribute of each pixel, and guesses unseen classes from it alone,
  scores this; transfer that does not beat it has not composed the two words.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import torch

from zegclip.catalog.benchmarks import IGNORE_INDEX
from zegclip.data.datasets import SegmentationDataset
from zegclip.engine.metrics import ConfusionMatrix, summarize
from zegclip.io import write_json
from zegclip.config.world import dataset_root


def _attribute_map(classes, unseen_ids, part: int) -> np.ndarray:
    """Class id -> the first unseen class with the same word at ``part`` (0 colour, 1 texture)."""
    lut = np.arange(256, dtype=np.int64)
    single = [c for c, n in enumerate(classes) if len(n.split(" ")) == 1 and c not in unseen_ids]
    for c, name in enumerate(classes):
        words = name.split(" ")
        if len(words) != 2:
            # seen stuff and background keep their true class; an unseen stuff class shares no
            # word with anything, so an attribute oracle cannot name it
            if c in unseen_ids and single:
                lut[c] = single[0]
            continue
        for u in unseen_ids:
            other = classes[u].split(" ")
            if len(other) == 2 and other[part] == words[part]:
                lut[c] = u
                break
    return lut


def reference_scores(dataset: SegmentationDataset, seed: int = 0) -> Dict[str, Dict[str, float]]:
    info = dataset.info
    cms = {name: ConfusionMatrix(info.num_classes) for name in ("uniform_chance", "colour_only", "texture_only")}
    luts = {"colour_only": _attribute_map(info.classes, info.unseen, 0),
            "texture_only": _attribute_map(info.classes, info.unseen, 1)}
    rng = np.random.default_rng(seed)
    for i in range(len(dataset)):
        _, label = dataset.load(i)
        target = torch.from_numpy(label)
        cms["uniform_chance"].update(torch.from_numpy(rng.integers(0, info.num_classes, label.shape)), target)
        safe = np.where(label == IGNORE_INDEX, 0, label)
        for name, lut in luts.items():
            cms[name].update(torch.from_numpy(lut[safe]), target)
    out = {}
    for name, cm in cms.items():
        m = summarize(cm, info.classes, info.unseen)
        out[name] = {k: m[k] for k in ("pAcc", "mIoU_S", "mIoU_U", "hIoU")}
    return out


def write_references(world: Path, dataset: str, output: Path) -> Dict[str, Dict[str, float]]:
    """Score the references on a mini dataset's val split and write them to ``output``."""
    scores = reference_scores(SegmentationDataset(dataset, dataset_root(world, dataset), "val"))
    write_json(output, {"dataset": dataset, "split": "val", "references": scores})
    return scores

"""Training targets for each setting of Table 2: inductive (unseen pixels ignored), self-training
(pseudo-labels for unseen pixels), fully supervised (every label)."""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import Tensor

from zegclip.catalog.benchmarks import IGNORE_INDEX, DatasetInfo
from zegclip.model.inference import class_scores


def training_class_ids(setting: str, info: DatasetInfo) -> List[int]:
    """The classes whose names are queried in training: only seen ones in the inductive setting."""
    return list(info.seen) if setting == "inductive" else list(range(info.num_classes))


def _lut(mapping: Sequence[int], fill: int = IGNORE_INDEX) -> Tensor:
    lut = torch.full((256,), fill, dtype=torch.long)
    for src, dst in enumerate(mapping):
        lut[src] = dst
    return lut


@torch.no_grad()
def training_targets(setting: str, labels: Tensor, valid: Tensor, logits: Tensor, info: DatasetInfo,
                     sigmoid: bool = True) -> Tensor:
    """labels (B, H, W) in dataset ids, valid (B, H, W) False on padding, logits (B, C', H, W)
    over the training classes -> targets (B, H, W) in positions of the training classes.

    - inductive: seen classes renumbered 0..S-1; unseen pixels ignored;
    - fully_supervised: labels as they are;
    - st_dagger: pixels of unseen classes get the pseudo label argmax over the unseen
      classes' scores (seen channels masked out, no threshold); ignore stays ignore;
    - st: also every ignored pixel that is not padding gets such a pseudo label.
    """
    labels = labels.long()
    if setting == "inductive":
        mapping = [IGNORE_INDEX] * info.num_classes
        for pos, c in enumerate(info.seen):
            mapping[c] = pos
        return _lut(mapping).to(labels.device)[labels]
    if setting == "fully_supervised":
        return labels
    unseen = torch.tensor(info.unseen, device=labels.device)
    scores = class_scores(logits, sigmoid)
    pseudo = unseen[scores[:, unseen].argmax(dim=1)]  # (B, H, W) dataset ids of unseen classes
    targets = labels.clone()
    relabel = torch.isin(labels, unseen)
    if setting == "st":
        relabel |= (labels == IGNORE_INDEX) & valid
    targets[relabel] = pseudo[relabel]
    return targets

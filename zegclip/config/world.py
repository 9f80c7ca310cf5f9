"""The mini-world's defaults, defined once: where the world is written, its seed, its size and
its tiny CLIP's pretraining recipe. The command line and the workflow take theirs from here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from zegclip.catalog.miniworld import ALL_DATASETS

WORLD_DIR = "data/mini"  # the presets' data roots and CLIP weights point inside it
WORLD_SEED = 0
MINI_CLIP_FILE = "clip/ZegCLIP-Mini.safetensors"  # inside the world folder


@dataclass(frozen=True)
class WorldSize:
    image_size: int = 32
    train: int = 1500  # per dataset (mini-VOC: half in train.txt, half in aug.txt)
    val: int = 400


@dataclass(frozen=True)
class PretrainConfig:
    """The tiny CLIP's contrastive pretraining."""

    steps: int = 800
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: Optional[int] = None  # None: a fifth of the steps, at most 100
    seed: int = 0
    eval_per_class: int = 20  # held-out single-class images per class for zero-shot accuracy

    @property
    def warmup_steps(self) -> int:
        return self.warmup if self.warmup is not None else min(100, max(1, self.steps // 5))


def dataset_root(world: Path, name: str) -> Path:
    """Where a mini dataset's ``data.root`` is, inside a generated world."""
    layout = ALL_DATASETS[name].layout
    sub = {"voc": "VOCdevkit/VOC2012", "coco": "coco_stuff164k", "context": "VOCdevkit/VOC2010"}[layout]
    return world / name / sub

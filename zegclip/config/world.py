"""The mini-world's defaults, defined once: where the world is written, its seed, its size and
its tiny CLIP's pretraining recipe. The command line and the workflow take theirs from here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from zegclip.catalog.miniworld import ALL_DATASETS, default_thing_size
from zegclip.config.schema import CLIP_CONFIG_DIR, ConfigError

WORLD_DIR = "data/mini"  # the presets' data roots and CLIP weights point inside it
WORLD_SEED = 0
MINI_CLIP_FILE = "clip/ZegCLIP-Mini-16.safetensors"  # inside the world folder


MIN_IMAGE_SIZE = 4  # one period of the textures (4 pixels): below it no texture can be told apart


def _at_least(name: str, value: int, least: int) -> None:
    if not isinstance(value, int) or value < least:
        raise ConfigError(f"{name}={value!r}: expected an integer of at least {least}")


@dataclass(frozen=True)
class WorldSize:
    image_size: int = 16  # v1: 32 (docs/mini-world.md, "Mini-world v2")
    train: int = 1500  # per dataset (mini-VOC: half in train.txt, half in aug.txt)
    val: int = 1000  # v1: 400; more images halve the seen mIoU's spread between seeds (docs/mini-world.md)
    objects: Tuple[int, int] = (1, 3)  # things per scene, drawn uniformly from this range
    # a thing's box sides in pixels, drawn uniformly from [min, max]; None: default_thing_size
    thing_size: Optional[Tuple[int, int]] = None
    # > 1: every region and thing boundary falls on this grid (pixels): with the tiny CLIP's patch
    # size, no patch token mixes two classes, as most of web CLIP's patches on large objects do not
    grid: int = 1

    def __post_init__(self) -> None:
        _at_least("mini world --image-size", self.image_size, MIN_IMAGE_SIZE)
        low, high = self.objects
        _at_least("mini world --objects (the fewest)", low, 1)  # a scene without things has no thing class
        _at_least("mini world --objects (the most)", high, low)
        _at_least("mini world --train", self.train, 2)  # mini-VOC splits it into train and aug
        _at_least("mini world --val", self.val, 1)
        if self.thing_size is not None:
            low, high = self.thing_size
            _at_least("mini world --thing-size (the smallest)", low, 1)
            _at_least("mini world --thing-size (the largest)", high, low)
            if high > self.image_size:
                raise ConfigError(f"mini world --thing-size {low} {high}: a thing must fit in the "
                                  f"{self.image_size}-pixel image")

        _at_least("mini world --grid", self.grid, 1)
        if self.image_size % self.grid:
            raise ConfigError(f"mini world --grid {self.grid}: expected a divisor of the image size "
                              f"{self.image_size}")

    @property
    def thing_range(self) -> Tuple[int, int]:
        """The smallest and largest side of a thing's box, in pixels."""
        return self.thing_size or default_thing_size(self.image_size)


def mini_towers() -> Tuple[str, ...]:
    """The tiny towers shipped in zegclip/clip_configs (the test tower is for tests only)."""
    return tuple(sorted(p.stem for p in CLIP_CONFIG_DIR.glob("ZegCLIP-Mini*.json")))


@dataclass(frozen=True)
class PretrainConfig:
    """The tiny CLIP's contrastive pretraining."""

    model: str = "ZegCLIP-Mini-16"  # the tower: a config in zegclip/clip_configs (v1: ZegCLIP-Mini)
    steps: int = 800
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: Optional[int] = None  # None: a fifth of the steps, at most 100
    seed: int = 0
    eval_per_class: int = 20  # held-out single-class images per class for zero-shot accuracy
    # > 0: also train each patch token (through ln_post and proj) to name its own patch's class
    # against every class name, with this weight: patch tokens that read like web CLIP's
    dense_weight: float = 1.0  # v1: 0 (image-level only); 1 gives a patch readout far above chance
    # None: CLIP's learned temperature (starts at 1/0.07, capped at 100). A number: the logit
    # scale stays fixed there (10 and 5 were measured weaker: docs/mini-world.md)
    logit_scale: Optional[float] = None

    def __post_init__(self) -> None:
        _at_least("mini clip --steps", self.steps, 1)
        _at_least("mini clip --batch", self.batch, 2)  # a contrastive batch needs negatives
        _at_least("mini clip eval_per_class", self.eval_per_class, 1)
        _at_least("mini clip --seed", self.seed, 0)
        if not self.dense_weight >= 0:
            raise ConfigError(f"mini clip --dense-weight={self.dense_weight!r}: expected a non-negative number")
        if self.logit_scale is not None and not 0.0 < self.logit_scale <= 100.0:
            raise ConfigError(f"mini clip --logit-scale={self.logit_scale!r}: expected a number in (0, 100]")

    @property
    def warmup_steps(self) -> int:
        return self.warmup if self.warmup is not None else min(100, max(1, self.steps // 5))


def dataset_root(world: Path, name: str) -> Path:
    """Where a mini dataset's ``data.root`` is, inside a generated world."""
    layout = ALL_DATASETS[name].layout
    sub = {"voc": "VOCdevkit/VOC2012", "coco": "coco_stuff164k", "context": "VOCdevkit/VOC2010"}[layout]
    return world / name / sub

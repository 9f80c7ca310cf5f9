"""The mini-world's vocabulary: classes named by words, so unseen ones are described by parts.

Things are ``"{colour} {texture}"`` objects ("red striped"); both attributes are visible
inside a single 4x4 patch, so every patch token can carry them. Stuff classes are
background regions with their own colour and pattern ("grass", "sky"). Unseen things
are chosen so that each of their words also occurs in seen classes: describing "red
striped" needs "red" and "striped" to have been seen elsewhere, never the pair.

The three mini datasets play the roles of the paper's three and overlap as those do:
mini-COCO holds every mini-VOC class and most mini-Context classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

COLOURS: Dict[str, Tuple[int, int, int]] = {
    "red": (215, 35, 35), "green": (40, 170, 50), "blue": (35, 70, 215), "yellow": (225, 205, 40),
    "purple": (140, 50, 185), "orange": (240, 130, 20), "cyan": (35, 200, 205), "pink": (240, 120, 185),
}
TEXTURES = ("plain", "striped", "checkered", "dotted", "barred")
STUFF: Dict[str, Tuple[Tuple[int, int, int], str]] = {  # name -> (colour, pattern)
    "grass": ((70, 120, 40), "noise"), "sky": ((150, 190, 235), "smooth"), "sand": ((205, 180, 125), "grain"),
    "water": ((40, 90, 140), "waves"), "wall": ((130, 125, 120), "bricks"), "road": ((75, 75, 80), "grain"),
}
BACKGROUND = "background"


def default_thing_size(image_size: int) -> Tuple[int, int]:
    """A scene's thing: its smallest and largest box side in pixels unless a world sets them,
    half the image to seven eighths of it (8-14 pixels at 16). v1 drew a third to half plus 2
    (5-10 at 16); larger things converge in fewer steps (docs/mini-world.md)."""
    return image_size // 2, image_size * 7 // 8


def clip_thing_size(image_size: int) -> Tuple[int, int]:
    """The tiny CLIP's single-class pretraining images keep v1's things, a third of the image to
    half of it plus 2: its measured pretraining, and a shift of scale from CLIP's data to the
    segmentation data as web CLIP meets."""
    return image_size // 3, image_size // 2 + 2


def thing(colour: str, texture: str) -> str:
    return f"{colour} {texture}"


def _things(colours) -> Tuple[str, ...]:
    return tuple(thing(c, t) for c in colours for t in TEXTURES)


@dataclass(frozen=True)
class MiniDataset:
    """One mini dataset: its classes, unseen ones, and how scenes are drawn."""

    name: str  # the data.dataset name
    layout: str  # which real layout it is written in: voc, coco or context
    things: Tuple[str, ...]
    stuff: Tuple[str, ...]
    unseen: Tuple[str, ...]
    background_class: bool  # Context: an explicit, seen "background" class

    @property
    def classes(self) -> Tuple[str, ...]:
        return ((BACKGROUND,) if self.background_class else ()) + self.things + self.stuff

    @property
    def unseen_ids(self) -> Tuple[int, ...]:
        return tuple(sorted(self.classes.index(c) for c in self.unseen))


VOC_COLOURS = ("red", "green", "blue", "yellow")
MINI_DATASETS: Dict[str, MiniDataset] = {
    # 20 object classes, background ignored; 15 seen / 5 unseen (one per texture, every colour seen).
    "mini_voc": MiniDataset(
        "mini_voc", "voc", _things(VOC_COLOURS), (),
        unseen=(thing("red", "striped"), thing("green", "checkered"), thing("blue", "dotted"),
                thing("yellow", "barred"), thing("red", "plain")),
        background_class=False),
    # 40 things and 6 stuff classes; about 10% unseen, other than mini-VOC's.
    "mini_coco": MiniDataset(
        "mini_coco", "coco", _things(tuple(COLOURS)), tuple(STUFF),
        unseen=(thing("green", "striped"), thing("purple", "checkered"), thing("orange", "dotted"),
                thing("cyan", "plain"), "sand"),
        background_class=False),
    # background + 20 things + 6 stuff; 5 unseen.
    "mini_context": MiniDataset(
        "mini_context", "context", _things(("red", "blue", "purple", "pink")), tuple(STUFF),
        unseen=(thing("red", "checkered"), thing("blue", "barred"), thing("pink", "striped"),
                thing("purple", "plain"), "water"),
        background_class=True),
}


# World variants, beside the default datasets (never replacing them): each changes one property
# of the world to test whether it decides one of the paper's claims (README, "World variants").
_NOVEL_VOC_UNSEEN = (thing("purple", "striped"), thing("orange", "checkered"), thing("cyan", "dotted"),
                     thing("pink", "barred"), thing("yellow", "plain"))
_NOVEL_COCO_UNSEEN = (thing("cyan", "plain"), thing("cyan", "checkered"), thing("cyan", "barred"),
                      thing("pink", "striped"), thing("pink", "dotted"))
_WIDE_VOC_UNSEEN = (thing("purple", "checkered"), thing("orange", "dotted"), thing("cyan", "barred"),
                     thing("pink", "plain"), thing("yellow", "striped"))
VARIANT_DATASETS: Dict[str, MiniDataset] = {
    # mini-VOC whose unseen things each have a colour that no seen thing has. The tiny CLIP knows
    # every colour (it is pretrained on all classes), as web-scale CLIP knows far more concepts
    # than a segmentation dataset shows; training on the seen classes never shows these words.
    "mini_voc_novel": MiniDataset(
        "mini_voc_novel", "voc", _things(("red", "green", "blue")) + _NOVEL_VOC_UNSEEN, (),
        unseen=_NOVEL_VOC_UNSEEN, background_class=False),
    # The same for mini-COCO: 30 seen things in six colours and the six stuff classes; the 5
    # unseen things are cyan or pink, colours no seen class has.
    "mini_coco_novel": MiniDataset(
        "mini_coco_novel", "coco",
        _things(("red", "green", "blue", "yellow", "purple", "orange")) + _NOVEL_COCO_UNSEEN, tuple(STUFF),
        unseen=_NOVEL_COCO_UNSEEN, background_class=False),
    # mini-VOC with every thing of the world: 40 things, 10 unseen (VOC's quarter), mini-VOC's five
    # and one more per texture, so that each colour and each texture keeps seen things. It measures
    # whether a run's seed-to-seed spread narrows when averaged over more unseen classes.
    "mini_voc_wide": MiniDataset(
        "mini_voc_wide", "voc", _things(tuple(COLOURS)), (),
        unseen=MINI_DATASETS["mini_voc"].unseen + _WIDE_VOC_UNSEEN, background_class=False),
}
ALL_DATASETS: Dict[str, MiniDataset] = {**MINI_DATASETS, **VARIANT_DATASETS}


def all_classes() -> Tuple[str, ...]:
    """Every class of the world, unseen ones included (what the tiny CLIP is pretrained on)."""
    return _things(tuple(COLOURS)) + tuple(STUFF)

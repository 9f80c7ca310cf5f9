"""Class names, seen/unseen splits and label handling of the three benchmarks, in one place,
with the mini-world's datasets registered beside them.

Class orders and unseen splits are the published code's (its dataset classes and configs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from zegclip.catalog.miniworld import ALL_DATASETS

IGNORE_INDEX = 255

# A user's own dataset is named ``custom:PATH`` to its description file (zegclip.data.custom).
CUSTOM_PREFIX = "custom:"


def is_custom(name: str) -> bool:
    return name.startswith(CUSTOM_PREFIX)

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)

COCO_STUFF_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush", "banner", "blanket",
    "branch", "bridge", "building-other", "bush", "cabinet", "cage", "cardboard", "carpet",
    "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter", "cupboard",
    "curtain", "desk-stuff", "dirt", "door-stuff", "fence", "floor-marble", "floor-other",
    "floor-stone", "floor-tile", "floor-wood", "flower", "fog", "food-other", "fruit",
    "furniture-other", "grass", "gravel", "ground-other", "hill", "house", "leaves", "light",
    "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper",
    "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing",
    "railroad", "river", "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf",
    "sky-other", "skyscraper", "snow", "solid-other", "stairs", "stone", "straw",
    "structural-other", "table", "tent", "textile-other", "towel", "tree", "vegetable",
    "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile",
    "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood",
)

CONTEXT60_CLASSES = (
    "background", "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat",
    "book", "bottle", "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth",
    "computer", "cow", "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food",
    "grass", "ground", "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person",
    "plate", "platform", "pottedplant", "road", "rock", "sheep", "shelves", "sidewalk", "sign",
    "sky", "snow", "sofa", "table", "track", "train", "tree", "truck", "tvmonitor", "wall",
    "water", "window", "wood",
)


@dataclass(frozen=True)
class DatasetInfo:
    """What a benchmark declares: its classes in label order and which of them are unseen."""

    name: str
    classes: Tuple[str, ...]
    unseen: Tuple[int, ...]
    ignore_index: int = IGNORE_INDEX

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def seen(self) -> Tuple[int, ...]:
        return tuple(i for i in range(self.num_classes) if i not in set(self.unseen))


DATASETS = {
    "voc": DatasetInfo("voc", VOC_CLASSES, unseen=(15, 16, 17, 18, 19)),
    "coco": DatasetInfo(
        "coco", COCO_STUFF_CLASSES,
        unseen=(19, 23, 28, 29, 36, 51, 76, 88, 94, 112, 133, 136, 137, 157, 160),
    ),
    # ZS3Net's unseen split: the authors published no Context config, so the split of the method
    # they compare with on Context.
    "context": DatasetInfo("context", CONTEXT60_CLASSES, unseen=(1, 7, 8, 15, 20, 25, 32, 34, 49, 55)),
    # Context-59: background dropped (ignored), every other id shifted down by one.
    "context59": DatasetInfo("context59", CONTEXT60_CLASSES[1:], unseen=(0, 6, 7, 14, 19, 24, 31, 33, 48, 54)),
}


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def _register_mini_datasets() -> None:
    """The embedded mini-world's datasets and their variants (zegclip.catalog.miniworld)."""
    for name, mini in ALL_DATASETS.items():
        DATASETS[name] = DatasetInfo(name, mini.classes, mini.unseen_ids)


_register_mini_datasets()

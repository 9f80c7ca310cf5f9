"""Bring your own dataset: a small description file makes any image/label folder pair a dataset
that ``zegclip train``, ``evaluate`` and ``segment`` accept wherever a built-in name goes, as
``data.dataset=custom:path/to/dataset.yaml``.

The description (YAML or JSON; an unknown key is an error)::

    classes: [cat, dog, grass, sky]      # in label order: label value k is classes[k]
    unseen: [dog]                        # hidden from inductive training (names from classes)
    train: {images: images/train, labels: labels/train}
    val: {images: images/val, labels: labels/val, list: val.txt}   # list: image ids, one per line
    image_suffix: .jpg                   # default .jpg
    label_suffix: .png                   # default .png; an id's label is labels/<id><label_suffix>
    ignore_index: 255                    # a label value that is no class (default 255)
    background: false                    # true: label 0 is a background to ignore, classes start at 1
    palette: [[0, 0, 0], [128, 0, 0]]    # labels are colour PNGs: colour k is label value k
    void_colour: [255, 255, 255]         # with a palette: the colour of "no class" (default white)

Folders and lists are relative to the description's folder, or to ``data.root`` when it is set.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import yaml

from zegclip.catalog.benchmarks import CUSTOM_PREFIX, IGNORE_INDEX, DatasetInfo
from zegclip.config import ConfigError, from_dict
from zegclip.data.errors import DataError

@dataclass(frozen=True)
class SplitSpec:
    images: str  # folder of images
    labels: str  # folder of label PNGs
    list: Optional[str] = None  # file of image ids, one per line; None: every image of the folder


@dataclass(frozen=True)
class CustomDescription:
    classes: Tuple[str, ...]
    train: SplitSpec
    val: SplitSpec
    unseen: Tuple[str, ...] = ()
    image_suffix: str = ".jpg"
    label_suffix: str = ".png"
    ignore_index: int = IGNORE_INDEX
    background: bool = False
    palette: Optional[Tuple[Tuple[int, int, int], ...]] = None
    void_colour: Tuple[int, int, int] = (255, 255, 255)

    def label_values(self) -> int:
        """How many label values name something: the classes, and the background if there is one."""
        return len(self.classes) + int(self.background)


def description_path(name: str) -> Path:
    return Path(name[len(CUSTOM_PREFIX):]).expanduser()


def _tupled(data: dict) -> dict:
    """YAML lists as the tuples the dataclasses declare (variable-length tuples of names)."""
    out = dict(data)
    for key in ("classes", "unseen"):
        if isinstance(out.get(key), list):
            out[key] = tuple(out[key])
    return out


@lru_cache(maxsize=16)
def load_description(name: str) -> CustomDescription:
    """The typed description behind ``custom:PATH``; every mistake is one error naming the file."""
    path = description_path(name)
    if not path.is_file():
        raise ConfigError(f"data.dataset={name}: no dataset description {path}")
    try:
        data = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"dataset description {path} is not valid {path.suffix.lstrip('.').upper() or 'YAML'}: "
                          f"{' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"dataset description {path}: expected a mapping with classes, train and val")
    for key in ("classes", "unseen"):
        if key in data and not (isinstance(data[key], list) and all(isinstance(c, str) and c for c in data[key])):
            raise ConfigError(f"dataset description {path}: {key} must be a list of class names")
    try:
        desc = from_dict(CustomDescription, _tupled(data), str(path))
    except TypeError as err:  # a required key missing
        raise ConfigError(f"dataset description {path}: {err}; expected classes, train and val") from None
    _check(desc, path)
    return desc


def _check(desc: CustomDescription, path: Path) -> None:
    if not desc.classes:
        raise ConfigError(f"dataset description {path}: classes is empty")
    doubled = sorted({c for c in desc.classes if desc.classes.count(c) > 1})
    if doubled:
        raise ConfigError(f"dataset description {path}: class {doubled[0]!r} is listed twice")
    strangers = [c for c in desc.unseen if c not in desc.classes]
    if strangers:
        raise ConfigError(f"dataset description {path}: unseen class {strangers[0]!r} is not one of its classes")
    if not 0 <= desc.ignore_index <= 255 or desc.ignore_index < desc.label_values():
        raise ConfigError(f"dataset description {path}: ignore_index {desc.ignore_index} must be in "
                          f"{desc.label_values()}..255, above every class's label value")
    if desc.palette is not None and len(desc.palette) != desc.label_values():
        raise ConfigError(f"dataset description {path}: palette has {len(desc.palette)} colours for "
                          f"{desc.label_values()} label values (classes{' and background' if desc.background else ''})")
    if desc.palette is not None:
        _check_palette(desc, path)


def _check_palette(desc: CustomDescription, path: Path) -> None:
    """Every colour names one label value: in 0..255, none shared, none the void colour."""
    names = (("background",) if desc.background else ()) + desc.classes  # label value k is names[k]
    for where, colour in [*((f"palette colour of {n!r}", c) for n, c in zip(names, desc.palette)),
                          ("void_colour", desc.void_colour)]:
        if not all(0 <= v <= 255 for v in colour):
            raise ConfigError(f"dataset description {path}: {where} {list(colour)} is not an RGB colour (0..255)")
    for k, colour in enumerate(desc.palette):
        if tuple(colour) == tuple(desc.void_colour):
            raise ConfigError(f"dataset description {path}: palette colour of {names[k]!r} {list(colour)} is also "
                              f"the void_colour; expected distinct colours")
        first = next(j for j, other in enumerate(desc.palette) if tuple(other) == tuple(colour))
        if first != k:
            raise ConfigError(f"dataset description {path}: {names[first]!r} and {names[k]!r} share the palette "
                              f"colour {list(colour)}; expected one colour per label value")


def custom_info(name: str) -> DatasetInfo:
    desc = load_description(name)
    return DatasetInfo(name, desc.classes, tuple(desc.classes.index(c) for c in desc.unseen))


def split_spec(desc: CustomDescription, split: str) -> SplitSpec:
    if split not in ("train", "val"):
        raise ConfigError(f"custom datasets have the splits train and val, not {split!r}")
    return desc.train if split == "train" else desc.val


def to_train_ids(desc: CustomDescription, raw: np.ndarray, where: Path) -> np.ndarray:
    """Raw label values (H, W) or colours (H, W, 3) -> train ids, ignore where no class."""
    if desc.palette is not None:
        if raw.ndim != 3:
            raise DataError(f"label {where}: expected a colour PNG (the description has a palette)")
        colours = np.asarray(desc.palette, dtype=np.int64)  # (K, 3)
        code = (raw[..., 0].astype(np.int64) << 16) | (raw[..., 1].astype(np.int64) << 8) | raw[..., 2]
        keys = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
        void = (desc.void_colour[0] << 16) | (desc.void_colour[1] << 8) | desc.void_colour[2]
        known = np.isin(code, keys)
        stray = ~known & (code != void)
        if stray.any():
            c = int(code[stray][0])
            raise DataError(f"label {where}: colour {[c >> 16, (c >> 8) & 255, c & 255]} is neither in the "
                            f"description's palette nor its void_colour {list(desc.void_colour)}")
        values = np.full(code.shape, desc.ignore_index, dtype=np.int64)
        order = np.argsort(keys)
        values[known] = order[np.searchsorted(keys[order], code[known])]
        raw = values
    raw = raw.astype(np.int64)
    ignored = raw == desc.ignore_index
    if desc.background:
        ignored |= raw == 0
        raw = raw - 1
    out = np.where(ignored, IGNORE_INDEX, raw)
    return out.astype(np.uint8)

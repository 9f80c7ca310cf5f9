"""Loaders for the three benchmarks in their standard mmsegmentation layouts.

Each dataset lists (image, label, raw-to-train-id mapping) triples at construction and
checks that every listed file exists; reading an image or label checks that it decodes,
that the sizes agree and that every label value is in range. Bad data raises
:class:`DataError` naming the file and what is wrong; nothing is skipped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from zegclip.catalog.benchmarks import IGNORE_INDEX, DatasetInfo, dataset_info
from zegclip.catalog.miniworld import ALL_DATASETS
from zegclip.catalog.benchmarks import is_custom
from zegclip.data.custom import custom_info, description_path, load_description, split_spec, to_train_ids
from zegclip.data.errors import DataError


@dataclass(frozen=True)
class Sample:
    image: Path
    label: Path


# raw label values -> train ids; 255 (void) always stays ignore
def _identity(raw: np.ndarray) -> np.ndarray:
    return raw


def _shift_background(raw: np.ndarray) -> np.ndarray:
    """VOC (and Context-59): background 0 -> ignore, class l -> l-1."""
    out = raw.astype(np.int16) - 1
    out[(raw == 0) | (raw == IGNORE_INDEX)] = IGNORE_INDEX
    return out.astype(np.uint8)


@dataclass(frozen=True)
class Layout:
    """Where one split of one benchmark lives, relative to its data root."""

    expected: str  # what the data root should be, for error messages
    image_dir: str
    image_ext: str
    label_dirs: Tuple[str, ...]  # one per split list (VOC train+aug reads two)
    label_suffix: str
    split_files: Tuple[Optional[str], ...]  # None: every image in image_dir
    raw_max: int  # largest raw label value besides 255
    to_train_ids: Callable[[np.ndarray], np.ndarray]


VOC_ROOT = "VOCdevkit/VOC2012 (JPEGImages/, SegmentationClass/, SegmentationClassAug/, ImageSets/Segmentation/)"
CONTEXT_ROOT = "VOCdevkit/VOC2010 (JPEGImages/, SegmentationClassContext/, ImageSets/SegmentationContext/)"
COCO_ROOT = "coco_stuff164k (images/{train2017,val2017}/, annotations/{train2017,val2017}/)"

LAYOUTS = {
    ("voc", "train"): Layout(VOC_ROOT, "JPEGImages", ".jpg", ("SegmentationClass", "SegmentationClassAug"), ".png",
                             ("ImageSets/Segmentation/train.txt", "ImageSets/Segmentation/aug.txt"), 20,
                             _shift_background),
    ("voc", "val"): Layout(VOC_ROOT, "JPEGImages", ".jpg", ("SegmentationClass",), ".png",
                           ("ImageSets/Segmentation/val.txt",), 20, _shift_background),
    ("coco", "train"): Layout(COCO_ROOT, "images/train2017", ".jpg", ("annotations/train2017",),
                              "_labelTrainIds.png", (None,), 170, _identity),
    ("coco", "val"): Layout(COCO_ROOT, "images/val2017", ".jpg", ("annotations/val2017",),
                            "_labelTrainIds.png", (None,), 170, _identity),
    ("context", "train"): Layout(CONTEXT_ROOT, "JPEGImages", ".jpg", ("SegmentationClassContext",), ".png",
                                 ("ImageSets/SegmentationContext/train.txt",), 59, _identity),
    ("context", "val"): Layout(CONTEXT_ROOT, "JPEGImages", ".jpg", ("SegmentationClassContext",), ".png",
                               ("ImageSets/SegmentationContext/val.txt",), 59, _identity),
}
for _split in ("train", "val"):
    LAYOUTS[("context59", _split)] = replace(LAYOUTS[("context", _split)], to_train_ids=_shift_background)


def _read_ids(path: Path) -> List[str]:
    if not path.is_file():
        raise DataError(f"split file {path} does not exist")
    try:
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except UnicodeDecodeError as err:
        raise DataError(f"split file {path} is not text ({err.reason}); expected one image id per line") from None
    if not ids:
        raise DataError(f"split file {path} lists no image ids; expected one image id per line")
    return ids


def list_samples(root: Path, layout: Layout) -> List[Sample]:
    if not root.is_dir():
        raise DataError(f"data root {root} does not exist; expected {layout.expected}")
    samples: List[Sample] = []
    for label_dir, split_file in zip(layout.label_dirs, layout.split_files):
        for folder, what in ((root / layout.image_dir, "images"), (root / label_dir, "labels")):
            if not folder.is_dir():
                raise DataError(f"{what} folder {folder} does not exist; expected {layout.expected}")
        if split_file is None:
            folder = root / layout.image_dir
            ids = sorted(p.name[: -len(layout.image_ext)] for p in folder.glob(f"*{layout.image_ext}"))
            if not ids:
                raise DataError(f"image folder {folder} holds no *{layout.image_ext} images")
            where = str(folder)
        else:
            ids = _read_ids(root / split_file)
            where = str(root / split_file)
        for i in ids:
            image = root / layout.image_dir / f"{i}{layout.image_ext}"
            label = root / label_dir / f"{i}{layout.label_suffix}"
            if not image.is_file():
                raise DataError(f"{where}: id {i!r} has no image {image}")
            if not label.is_file():
                raise DataError(f"{where}: id {i!r} has no label {label}")
            samples.append(Sample(image, label))
    return samples


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err


def read_label(path: Path) -> np.ndarray:
    """(H, W) uint8 raw label values (palette indices for palette PNGs)."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "I", "I;16"):
                raise DataError(f"label {path} has image mode {im.mode}; expected a single-channel "
                                "or palette PNG of class indices")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"cannot read label {path}: {err}") from err
    if arr.max(initial=0) > 255:
        raise DataError(f"label {path}: value {int(arr.max())} is outside 0..255")
    return arr.astype(np.uint8)


class SegmentationDataset:
    """One split of a benchmark: ``load(i)`` gives the image and its train-id label map.
    ``cache``: keep every decoded sample in memory after its first read (for datasets of a few
    MB, such as the mini-world's, where decoding costs half of a CPU's data loading)."""

    def __init__(self, name: str, root: Optional[str | Path], split: str, cache: bool = False) -> None:
        self.name, self.split = name, split
        self._cache: Optional[Dict[int, Tuple[np.ndarray, np.ndarray]]] = {} if cache else None
        if is_custom(name):  # a user's dataset (zegclip.data.custom)
            self._custom = load_description(name)
            self.info: DatasetInfo = custom_info(name)
            self.root = Path(root).expanduser() if root else description_path(name).resolve().parent
            spec, desc = split_spec(self._custom, split), self._custom
            self.layout = Layout(f"the folders {description_path(name)} names", spec.images, desc.image_suffix,
                                 (spec.labels,), desc.label_suffix, (spec.list,), desc.label_values() - 1,
                                 _identity)  # label values: _read checks and maps them with the description
            self.samples = list_samples(self.root, self.layout)
            return
        if (name, split) not in LAYOUTS:
            known = sorted({n for n, _ in LAYOUTS})
            raise DataError(f"unknown dataset/split {name}/{split}; datasets: {', '.join(known)}, or "
                            f"custom:DESCRIPTION.yaml; splits: train, val")
        self._custom = None
        self.info = dataset_info(name)
        self.layout = LAYOUTS[(name, split)]
        if root is None:
            raise DataError(f"data.root is not set; expected {self.layout.expected}")
        self.root = Path(root).expanduser()
        self.samples = list_samples(self.root, self.layout)

    def __len__(self) -> int:
        return len(self.samples)

    def verify_sample(self, n: int = 8) -> None:
        """Read ``n`` evenly spaced samples (decoding, sizes, label range): what a run would
        otherwise find only when it reaches them, hours later at paper scale."""
        for index in np.unique(np.linspace(0, len(self) - 1, min(n, len(self))).round().astype(int)):
            self._read(int(index))

    def verify_all(self) -> None:
        """Read every sample (through the cache when there is one, so evaluation reads nothing
        twice): the evaluation split is checked whole before training, not after it."""
        for index in tqdm(range(len(self)), desc=f"check {self.name} {self.split}", unit="img", leave=False,
                          disable=len(self) < 1000):
            self.load(index)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 image and (H, W) uint8 label in 0..C-1 or 255 (never modify them)."""
        if self._cache is None:
            return self._read(index)
        if index not in self._cache:
            self._cache[index] = self._read(index)
        return self._cache[index]

    def _read(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        s = self.samples[index]
        image = read_image(s.image)
        custom = self._custom
        raw = read_image(s.label) if custom is not None and custom.palette is not None else read_label(s.label)
        if raw.shape[:2] != image.shape[:2]:
            raise DataError(f"image {s.image} is {image.shape[1]}x{image.shape[0]} but its label {s.label} "
                            f"is {raw.shape[1]}x{raw.shape[0]}")
        if custom is not None:
            if custom.palette is None:
                bad = (raw >= custom.label_values()) & (raw != custom.ignore_index)
                if bad.any():
                    raise DataError(f"label {s.label}: value {int(raw[bad][0])} is beyond the "
                                    f"{len(custom.classes)} classes of {description_path(self.name)} "
                                    f"(values 0..{custom.label_values() - 1}, or {custom.ignore_index} for none)")
            return image, to_train_ids(custom, raw, s.label)
        bad = (raw > self.layout.raw_max) & (raw != IGNORE_INDEX)
        if bad.any():
            raise DataError(f"label {s.label}: value {int(raw[bad][0])} is outside the class range "
                            f"0..{self.layout.raw_max} and not {IGNORE_INDEX}")
        return image, self.layout.to_train_ids(raw)


def _register_mini_layouts() -> None:
    """The mini-world's datasets are written in the real layouts, with their own class counts."""
    for name, mini in ALL_DATASETS.items():
        for split in ("train", "val"):
            real = LAYOUTS[(mini.layout, split)]
            raw_max = len(mini.classes) if mini.layout == "voc" else len(mini.classes) - 1
            LAYOUTS[(name, split)] = replace(real, raw_max=raw_max)


_register_mini_layouts()

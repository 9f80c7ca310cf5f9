"""One-time dataset conversions every user of the real benchmarks must run."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

from zegclip.catalog.benchmarks import IGNORE_INDEX
from zegclip.data.datasets import DataError, read_label
from zegclip.io import atomic_path

# Raw COCO-Stuff stuff-thing values that never occur (ids of the 91-thing list that COCO dropped).
COCO_UNUSED_RAW = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)


def coco_stuff_lut() -> np.ndarray:
    """Raw stuff-thing value (0..181, 255) -> train id (0..170, 255); unused values -> -1."""
    lut = np.full(256, -1, dtype=np.int16)
    train_id = 0
    for raw in range(182):
        if raw in COCO_UNUSED_RAW:
            continue
        lut[raw] = train_id
        train_id += 1
    lut[IGNORE_INDEX] = IGNORE_INDEX
    assert train_id == 171
    return lut


def convert_coco_stuff(root: Path, progress: bool = True,
                       on_file: Optional[Callable[[Path], None]] = None) -> int:
    """Write ``*_labelTrainIds.png`` beside each official ``annotations/{train,val}2017/*.png``."""
    lut = coco_stuff_lut()
    n = 0
    for split in ("train2017", "val2017"):
        folder = root / "annotations" / split
        if not folder.is_dir():
            raise DataError(f"{folder} does not exist; expected the official stuffthingmaps_trainval2017 "
                            f"PNGs unpacked into {root}/annotations/{{train2017,val2017}}/")
        files = sorted(p for p in folder.glob("*.png") if not p.name.endswith("_labelTrainIds.png"))
        for path in tqdm(files, desc=f"coco-stuff {split}", disable=not progress):
            raw = read_label(path)
            ids = lut[raw]
            if (ids < 0).any():
                bad = int(raw[ids < 0][0])
                raise DataError(f"label {path}: raw value {bad} is not a COCO-Stuff class "
                                f"(expected 0..181 except {list(COCO_UNUSED_RAW)}, or 255)")
            target = path.with_name(path.stem + "_labelTrainIds.png")
            with atomic_path(target) as tmp:
                Image.fromarray(ids.astype(np.uint8)).save(tmp, format="PNG")
            n += 1
    return n


# PASCAL Context: the 60 original Detail ids of the 59-class benchmark plus background. As in the
# standard mmsegmentation converter, train ids follow these ids in ascending order, which
# is the alphabetical order of the class names in zegclip.catalog.benchmarks.
CONTEXT_IDS = (0, 2, 259, 260, 415, 324, 9, 258, 144, 18, 19, 22, 23, 397, 25, 284, 158, 159, 416, 33, 162, 420,
               454, 295, 296, 427, 44, 45, 46, 308, 59, 440, 445, 31, 232, 65, 354, 424, 68, 326, 72, 458, 34,
               207, 80, 355, 85, 347, 220, 349, 360, 98, 187, 104, 105, 366, 189, 368, 113, 115)


def decode_rle(rle: dict) -> np.ndarray:
    """{'size': [h, w], 'counts': str | list} -> (h, w) bool mask, decoded by pycocotools.

    pycocotools does not check that the runs cover the image (too few leave memory it never
    wrote), so a mask that does not encode back to the same runs is an error naming it."""
    from pycocotools import mask as coco_mask

    h, w = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, list):  # uncompressed runs
        if sum(counts) != h * w:
            raise DataError(f"RLE runs cover {sum(counts)} pixels, expected {h}x{w}")
        compressed = coco_mask.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    else:
        compressed = {"size": [h, w], "counts": counts.encode() if isinstance(counts, str) else counts}
    try:
        mask = coco_mask.decode(compressed)  # (h, w) uint8
    except ValueError as err:  # runs beyond the image
        raise DataError(f"RLE of size {h}x{w} does not decode: {err}") from None
    if coco_mask.encode(np.asfortranarray(mask))["counts"] != compressed["counts"]:
        raise DataError(f"RLE runs do not cover the {h}x{w} image exactly")
    return mask.astype(bool)


def convert_context(json_path: Path, root: Path, progress: bool = True) -> Dict[str, int]:
    """``trainval_merged.json`` -> ``SegmentationClassContext/*.png`` (0..59) and split lists."""
    import json

    if not json_path.is_file():
        raise DataError(f"{json_path} does not exist; expected the PASCAL in Detail trainval_merged.json")
    try:
        detail = json.loads(json_path.read_text())
        images = {img["image_id"]: img for img in detail["images"]}
        annos = detail["annos_segmentation"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DataError(f"{json_path} is not a PASCAL in Detail annotation file "
                        f"(expected 'images' and 'annos_segmentation'): {err}") from err
    by_image: Dict[int, list] = {}
    for ann in annos:
        by_image.setdefault(ann["image_id"], []).append(ann)
    lut = np.full(max(CONTEXT_IDS) + 1, -1, dtype=np.int16)
    for train_id, raw in enumerate(sorted(CONTEXT_IDS)):
        lut[raw] = train_id
    out_dir = root / "SegmentationClassContext"
    splits: Dict[str, list] = {"train": [], "val": []}
    for image_id, img in tqdm(sorted(images.items()), desc="pascal context", disable=not progress):
        mask = np.zeros((img["height"], img["width"]), dtype=np.int64)
        for ann in by_image.get(image_id, []):
            mask[decode_rle(ann["segmentation"])] = ann["category_id"]
        bad = (mask >= len(lut)) | (lut[np.minimum(mask, len(lut) - 1)] < 0)
        if bad.any():
            raise DataError(f"{json_path}: image {img['file_name']} has category {int(mask[bad][0])}, "
                            f"not one of the 60 PASCAL Context classes")
        stem = Path(img["file_name"]).stem
        with atomic_path(out_dir / f"{stem}.png") as tmp:
            Image.fromarray(lut[mask].astype(np.uint8)).save(tmp, format="PNG")
        phase = img.get("phase")
        if phase not in splits:
            raise DataError(f"{json_path}: image {img['file_name']} has phase {phase!r}; expected train or val")
        splits[phase].append(stem)
    for phase, stems in splits.items():
        with atomic_path(root / "ImageSets" / "SegmentationContext" / f"{phase}.txt") as tmp:
            tmp.write_text("".join(s + "\n" for s in stems))
    return {k: len(v) for k, v in splits.items()}

"""One-time dataset conversions every user of the real benchmarks must run."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

from zegclip.data.catalog import IGNORE_INDEX
from zegclip.data.datasets import DataError, read_label
from zegclip.io import atomic_path

# Raw COCO-Stuff stuff-thing values that never occur (reference.md section 5).
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

"""Writing the mini datasets to disk in the real benchmarks' layouts, once per seed."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Dict, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from zegclip.io import atomic_path, write_json, writing
from zegclip.miniworld.render import render_scene
from zegclip.config import ConfigError
from zegclip.config.world import WorldSize, dataset_root
from zegclip.catalog.miniworld import ALL_DATASETS, MINI_DATASETS, MiniDataset


def _raw_label(ds: MiniDataset, label: np.ndarray) -> np.ndarray:
    """Train ids -> the raw values of the real layout (VOC: background 0, class l as l+1)."""
    if ds.layout != "voc":
        return label
    raw = label.astype(np.int16) + 1
    raw[label == 255] = 0
    return raw.astype(np.uint8)


def _write(image: np.ndarray, label: np.ndarray, img_path: Path, lbl_path: Path) -> None:
    img_path.parent.mkdir(parents=True, exist_ok=True)
    lbl_path.parent.mkdir(parents=True, exist_ok=True)
    with writing(img_path):
        Image.fromarray(image).save(img_path, format="JPEG", quality=100, subsampling=0)
    with writing(lbl_path):
        Image.fromarray(label).save(lbl_path, format="PNG")


def write_dataset(world: Path, ds: MiniDataset, size: WorldSize, seed: int, index: int) -> None:
    root = dataset_root(world, ds.name)
    splits = {"train": size.train, "val": size.val}
    for s, (split, n) in enumerate(splits.items()):
        rng = np.random.default_rng([seed, index, s])
        ids = []
        for k in tqdm(range(n), desc=f"{ds.name} {split}", leave=False):
            image, label = render_scene(ds, rng, size)
            raw = _raw_label(ds, label)
            if ds.layout == "voc":
                name = f"{split}_{k:05d}"
                sub = "SegmentationClassAug" if split == "train" and k % 2 else "SegmentationClass"
                _write(image, raw, root / "JPEGImages" / f"{name}.jpg", root / sub / f"{name}.png")
            elif ds.layout == "coco":
                name = f"{k:012d}"
                _write(image, raw, root / "images" / f"{split}2017" / f"{name}.jpg",
                       root / "annotations" / f"{split}2017" / f"{name}_labelTrainIds.png")
            else:
                name = f"{split}_{k:05d}"
                _write(image, raw, root / "JPEGImages" / f"{name}.jpg", root / "SegmentationClassContext" / f"{name}.png")
            ids.append(name)
        if ds.layout == "voc":
            lists = ({"train": ids[0::2], "aug": ids[1::2]} if split == "train" else {"val": ids})
            for list_name, members in lists.items():
                with atomic_path(root / "ImageSets" / "Segmentation" / f"{list_name}.txt") as tmp:
                    tmp.write_text("".join(m + "\n" for m in members))
        elif ds.layout == "context":
            with atomic_path(root / "ImageSets" / "SegmentationContext" / f"{split}.txt") as tmp:
                tmp.write_text("".join(m + "\n" for m in ids))


def generate_world(world: Path, seed: int = 0, size: WorldSize = WorldSize(),
                   names: Sequence[str] = tuple(MINI_DATASETS)) -> Dict[str, object]:
    """Generate the mini datasets ``names`` (default: the three of the default world) under
    ``world`` unless the same world is already there.

    ``world/world.json`` is written last and marks a complete world; its content (seed,
    sizes, classes) decides whether a cached world can be reused. A dataset's images depend
    only on the seed and its place in ``ALL_DATASETS``, not on which others are written.
    """
    if seed < 0:  # numpy's generators take non-negative seeds only
        raise ConfigError(f"mini world --seed={seed}: expected a non-negative integer")
    unknown = [n for n in names if n not in ALL_DATASETS]
    if unknown or not names:
        raise ValueError(f"mini datasets {unknown or list(names)}: expected some of {', '.join(ALL_DATASETS)}")
    chosen = {n: ALL_DATASETS[n] for n in names}
    # the size as JSON reads it back, with the thing sizes resolved: a default and a named range alike
    size_json = {**asdict(size), "objects": list(size.objects), "thing_size": list(size.thing_range)}
    manifest = {"seed": seed, "size": size_json,
                "datasets": {n: {"classes": list(d.classes), "unseen": list(d.unseen), "layout": d.layout}
                             for n, d in chosen.items()}}
    marker = world / "world.json"
    if marker.is_file() and json.loads(marker.read_text()) == manifest:
        return manifest
    for name, ds in chosen.items():
        write_dataset(world, ds, size, seed, list(ALL_DATASETS).index(name))
    write_json(marker, manifest)
    return manifest

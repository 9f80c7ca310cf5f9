"""Small fixture trees in the exact real layouts, with learnable content.

Each object is a rectangle filled with its class's colour (plus noise), so a tiny model
can learn something in a few iterations and the loss visibly goes down.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from zegclip.data.prepare import COCO_UNUSED_RAW

VOC_PALETTE = [v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)]


def _scene(rng, h, w, class_values, background):
    """An image and a raw label map with 2-3 rectangles of classes drawn from ``class_values``."""
    label = np.full((h, w), background, dtype=np.uint8)
    image = np.full((h, w, 3), 110, dtype=np.float32)
    for _ in range(int(rng.integers(2, 4))):
        v = int(rng.choice(class_values))
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        y1, x1 = y0 + int(rng.integers(h // 4, h // 2)), x0 + int(rng.integers(w // 4, w // 2))
        label[y0:y1, x0:x1] = v
        image[y0:y1, x0:x1] = ((v * 47) % 200 + 30, (v * 83) % 200 + 30, (v * 29) % 200 + 30)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), label


def _save(image, label, img_path: Path, lbl_path: Path, palette: bool = False):
    img_path.parent.mkdir(parents=True, exist_ok=True)
    lbl_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(img_path, quality=95)
    lbl = Image.fromarray(label, mode="L")
    if palette:
        lbl = lbl.convert("P")
        lbl.putpalette(VOC_PALETTE)
    lbl.save(lbl_path)


def make_voc(root: Path, n_train=4, n_aug=4, n_val=3, size=(72, 96), seed=0) -> Path:
    """VOCdevkit/VOC2012 with train/aug/val lists; raw values 0 (background) .. 20, void 255."""
    rng = np.random.default_rng(seed)
    voc = root / "VOCdevkit" / "VOC2012"
    splits = {"train": (n_train, "SegmentationClass"), "aug": (n_aug, "SegmentationClassAug"),
              "val": (n_val, "SegmentationClass")}
    for split, (n, label_dir) in splits.items():
        ids = [f"2007_{split}{i:03d}" for i in range(n)]
        for i in ids:
            image, label = _scene(rng, *size, class_values=list(range(1, 21)), background=0)
            label[:2, :] = 255  # a void border, as VOC has
            _save(image, label, voc / "JPEGImages" / f"{i}.jpg", voc / label_dir / f"{i}.png",
                  palette=label_dir == "SegmentationClass")
        (voc / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return voc


def make_coco_stuff(root: Path, n_train=4, n_val=3, size=(64, 80), seed=0, raw=False) -> Path:
    """coco_stuff164k with *_labelTrainIds.png (or, with ``raw``, the official raw maps)."""
    rng = np.random.default_rng(seed)
    coco = root / "coco_stuff164k"
    used_raw = [v for v in range(182) if v not in COCO_UNUSED_RAW]
    for split, n in (("train2017", n_train), ("val2017", n_val)):
        for k in range(n):
            name = f"{k + 1:012d}"
            values = used_raw if raw else list(range(171))
            image, label = _scene(rng, *size, class_values=values, background=255)
            suffix = ".png" if raw else "_labelTrainIds.png"
            _save(image, label, coco / "images" / split / f"{name}.jpg", coco / "annotations" / split / f"{name}{suffix}")
    return coco


def make_context(root: Path, n_train=4, n_val=3, size=(64, 64), seed=0) -> Path:
    """VOCdevkit/VOC2010 with SegmentationClassContext (values 0..59) and its split lists."""
    rng = np.random.default_rng(seed)
    ctx = root / "VOCdevkit" / "VOC2010"
    for split, n in (("train", n_train), ("val", n_val)):
        ids = [f"2008_{split}{i:03d}" for i in range(n)]
        for i in ids:
            image, label = _scene(rng, *size, class_values=list(range(1, 60)), background=0)
            _save(image, label, ctx / "JPEGImages" / f"{i}.jpg", ctx / "SegmentationClassContext" / f"{i}.png")
        (ctx / "ImageSets" / "SegmentationContext").mkdir(parents=True, exist_ok=True)
        (ctx / "ImageSets" / "SegmentationContext" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return ctx


def make_custom(root: Path, classes=("cat", "dog", "grass", "sky"), unseen=("dog",), n_train=6, n_val=3,
                size=(48, 64), background=False, palette=None, seed=0, **extra) -> Path:
    """A user's own dataset: images/{train,val}/*.jpg, labels/{train,val}/*.png (label values, or
    colours with ``palette``), a val.txt list, and its description dataset.yaml; returns that file."""
    import yaml

    rng = np.random.default_rng(seed)
    values = list(range(1, len(classes) + 1)) if background else list(range(len(classes)))
    for split, n in (("train", n_train), ("val", n_val)):
        ids = [f"{split}_{k:03d}" for k in range(n)]
        for i in ids:
            image, label = _scene(rng, *size, class_values=values, background=0 if background else values[-1])
            label[:2, :] = 255  # a strip of "no class"
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "images" / split / f"{i}.jpg", quality=95)
            if palette is None:
                Image.fromarray(label, mode="L").save(root / "labels" / split / f"{i}.png")
            else:
                colours = np.array(list(palette) + [[255, 255, 255]] * (256 - len(palette)), dtype=np.uint8)
                Image.fromarray(colours[label]).save(root / "labels" / split / f"{i}.png")
        if split == "val":
            (root / "val.txt").write_text("\n".join(ids) + "\n")
    description = {"classes": list(classes), "unseen": list(unseen),
                   "train": {"images": "images/train", "labels": "labels/train"},
                   "val": {"images": "images/val", "labels": "labels/val", "list": "val.txt"},
                   "background": background, **extra}
    if palette is not None:
        description["palette"] = [list(c) for c in palette]
    path = root / "dataset.yaml"
    path.write_text(yaml.safe_dump(description, sort_keys=False))
    return path

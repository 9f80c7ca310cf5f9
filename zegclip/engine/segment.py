"""``zegclip segment``: a trained model on any images, with any class names.

For each image it writes a label PNG (a palette PNG whose values are class ids in the order the
names were given), an overlay PNG (the image blended with a colour per class, and a legend), and
on request the per-class score maps. Inference is the evaluation's own: the run's test scale,
slide windows, scores resized to the image's size, argmax. The seen-class calibration (the
run's ``seen_bias`` subtracted from seen classes' scores) applies only to the classes named as
seen. Nothing here imports training code.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from tqdm import tqdm

from zegclip.config import ConfigError, RunConfig
from zegclip.data.datasets import DataError, read_image
from zegclip.data.transforms import eval_transform
from zegclip.engine.checkpoint import CheckpointError
from zegclip.engine.evaluate import load_trained, predict_scores, same_size_runs
from zegclip.engine.runtime import resolve_device
from zegclip.io import atomic_path, write_json, writing

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_CLASSES = 256  # a palette PNG's values


def checkpoint_file(path: Path) -> Path:
    """A run directory (its ``final.pt``) or a checkpoint file."""
    if path.is_dir():
        path = path / "final.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; expected a run directory with final.pt, or a .pt file")
    return path


def read_classes(spec: str) -> List[str]:
    """Class names from a file (one per line; blank lines and '#' comments skipped) or a
    comma-separated list."""
    path = Path(spec)
    try:
        from_file = path.is_file()
    except OSError:  # too long to be a file name: a long list of names
        from_file = False
    names = ([line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
             if from_file else [n.strip() for n in spec.split(",")])
    if not names or not all(names):
        raise ConfigError(f"--classes {spec!r}: expected names separated by commas, or a file with one per line")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"--classes: {', '.join(doubled)} given twice; each class needs one id")
    if len(names) > MAX_CLASSES:
        raise ConfigError(f"--classes: {len(names)} classes; a label PNG holds at most {MAX_CLASSES}")
    return names


def find_images(inputs: Sequence[str]) -> List[Path]:
    """Image files, and the images of folders (sorted by name), in the order given."""
    found: List[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"image or folder {path} does not exist")
    if not found:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(inputs)}")
    stems = [p.stem for p in found]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise DataError(f"two images are named {clash[0]}; their outputs would overwrite each other")
    return found


def palette(n: int) -> np.ndarray:
    """(n, 3) uint8 colours, far apart in hue (golden-angle steps) at two brightnesses."""
    hue = (np.arange(n) * 0.381966) % 1.0
    value = np.where(np.arange(n) % 2 == 0, 0.95, 0.7)
    k = (hue[:, None] * 6 + np.array([5, 3, 1])) % 6  # HSV -> RGB at saturation 0.8
    rgb = value[:, None] * (1 - 0.8 * np.clip(np.minimum(k, 4 - k), 0, 1))
    return (rgb * 255).round().astype(np.uint8)


def _batches(paths: List[Path], cfg: RunConfig) -> Iterator[Tuple[List[Path], List[np.ndarray], Tensor]]:
    """(paths, RGB arrays, normalised test-scale images) of runs of same-size images, batched as
    the evaluation batches a split."""
    def read() -> Iterator[Tuple[Path, np.ndarray, Tensor]]:
        for path in paths:
            rgb = read_image(path)
            yield path, rgb, eval_transform(rgb, cfg.data.augment)  # (3, h, w)

    for run in same_size_runs(read(), cfg.model.inference.batch, lambda r: (r[2].shape, r[1].shape)):
        yield [r[0] for r in run], [r[1] for r in run], torch.stack([r[2] for r in run])


def overlay(rgb: np.ndarray, label: np.ndarray, colours: np.ndarray, names: Sequence[str]) -> Image.Image:
    """The image blended half and half with its classes' colours, a legend of the classes present
    on its right."""
    blend = (0.5 * rgb + 0.5 * colours[label]).astype(np.uint8)
    present = [int(c) for c in np.unique(label)]
    font = ImageFont.load_default()
    row, swatch = 14, 10
    width = 8 + swatch + 4 + max(int(font.getlength(names[c])) for c in present) + 8
    height = max(rgb.shape[0], 4 + row * len(present))
    canvas = Image.new("RGB", (rgb.shape[1] + width, height), (255, 255, 255))
    canvas.paste(Image.fromarray(blend), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, c in enumerate(present):
        x, y = rgb.shape[1] + 8, 4 + i * row
        draw.rectangle((x, y, x + swatch, y + swatch), fill=tuple(int(v) for v in colours[c]), outline=(0, 0, 0))
        draw.text((x + swatch + 4, y - 1), names[c], fill=(0, 0, 0), font=font)
    return canvas


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A staging folder beside ``out`` whose files move into ``out`` only when the whole run
    succeeded: an image that fails half-way leaves ``out`` as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield stage
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = out / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _save_png(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


@torch.no_grad()
def segment(checkpoint: Path, classes: Sequence[str], images: Sequence[Path], out: Path,
            seen: Sequence[str] = (), templates: Optional[str] = None, scores: bool = False,
            inference: Sequence[str] = (), progress: bool = True) -> Dict[str, object]:
    """Label and overlay PNGs (and, with ``scores``, float16 score maps (C, H, W) as .npy) for
    every image under ``out``; returns what ``out/segment.json`` records."""
    unknown = [s for s in seen if s not in classes]
    if unknown:
        raise ConfigError(f"--seen {unknown[0]!r} is not one of --classes")
    checkpoint = checkpoint_file(Path(checkpoint))
    model, cfg = load_trained(checkpoint, inference, "segment", templates)
    device = resolve_device()
    model.to(device)
    text = model.encode_classes(list(classes)).to(device)  # (C, E)
    seen_mask = torch.tensor([c in seen for c in classes], device=device) if seen else None
    colours = palette(len(classes))
    flat_palette = colours.flatten().tolist()
    bar = tqdm(total=len(images), desc="segment", unit="img", dynamic_ncols=True, disable=not progress)
    with staged(Path(out)) as stage, bar:
        for paths, rgbs, batch in _batches(list(images), cfg):
            probs = predict_scores(model, cfg, batch, text, seen_mask, rgbs[0].shape[:2], device)  # (B, C, H, W)
            labels = probs.argmax(dim=1).to(torch.uint8).cpu().numpy()  # (B, H, W)
            for path, rgb, label, score in zip(paths, rgbs, labels, probs):
                png = Image.fromarray(label, mode="P")
                png.putpalette(flat_palette)
                _save_png(png, stage / "labels" / f"{path.stem}.png")
                _save_png(overlay(rgb, label, colours, classes), stage / "overlays" / f"{path.stem}.png")
                if scores:
                    (stage / "scores").mkdir(exist_ok=True)
                    with writing(Path(out) / "scores" / f"{path.stem}.npy"):  # the user's path, not the stage's
                        np.save(stage / "scores" / f"{path.stem}.npy", score.half().cpu().numpy())
            bar.update(len(paths))
        record = {"checkpoint": str(checkpoint), "classes": list(classes), "seen": list(seen),
                  "seen_bias": cfg.model.inference.seen_bias if seen else 0.0, "templates": cfg.model.text.templates,
                  "palette": colours.tolist(), "images": [str(p) for p in images]}
        write_json(stage / "segment.json", record)
    return record

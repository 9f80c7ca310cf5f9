"""Drawing mini-world scenes: textured objects on plain or stuff backgrounds, with pixel labels."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from zegclip.catalog.miniworld import BACKGROUND, COLOURS, STUFF, MiniDataset, clip_thing_size
from zegclip.config.world import WorldSize

GREY = (118, 118, 118)


def texture(name: str, colour: Tuple[int, int, int], h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w, 3) float: a thing's texture in its colour. Periods are 2-4 px: visible in a 4x4 patch."""
    y, x = np.mgrid[0:h, 0:w]
    phase_y, phase_x = rng.integers(0, 4, size=2)
    bright = np.asarray(colour, dtype=np.float32) * rng.uniform(0.85, 1.15)
    dark = bright * 0.3
    on = {
        "plain": np.ones((h, w), dtype=bool),
        "striped": ((y + phase_y) // 2) % 2 == 0,
        "barred": ((x + phase_x) // 2) % 2 == 0,
        "checkered": (((y + phase_y) // 2) + ((x + phase_x) // 2)) % 2 == 0,
        "dotted": ((y + phase_y) % 3 == 0) & ((x + phase_x) % 3 == 0),
    }[name]
    return np.where(on[..., None], bright, dark)


def stuff_texture(name: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    colour, pattern = STUFF[name] if name != BACKGROUND else (GREY, "flat")
    base = np.asarray(colour, dtype=np.float32) * rng.uniform(0.9, 1.1)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if pattern == "noise":
        delta = rng.normal(0, 28, (h, w))
    elif pattern == "smooth":
        delta = (y / h - 0.5) * 40
    elif pattern == "grain":
        delta = rng.normal(0, 14, (h, w))
    elif pattern == "waves":
        delta = 35 * np.sin(2 * np.pi * (y + rng.uniform(0, 6)) / 6.0)
    elif pattern == "bricks":
        row = (y + rng.integers(0, 4)) // 4
        mortar = ((y % 4) == 0) | (((x + 4 * (row % 2)) % 8) == 0)
        delta = np.where(mortar, 70.0, -10.0)
    else:  # flat
        delta = np.zeros((h, w))
    return base + delta[..., None]


def shape_mask(h: int, w: int, rng: np.random.Generator, min_size: int, max_size: int) -> np.ndarray:
    """A random rectangle, ellipse or triangle."""
    sh, sw = rng.integers(min_size, max_size + 1, size=2)
    top, left = rng.integers(0, h - sh + 1), rng.integers(0, w - sw + 1)
    y, x = np.mgrid[0:h, 0:w]
    u, v = (y - top) / max(sh - 1, 1), (x - left) / max(sw - 1, 1)  # 0..1 inside the box
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    kind = rng.integers(3)
    if kind == 1:
        inside &= (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    elif kind == 2:
        inside &= np.abs(v - 0.5) <= u / 2
    return inside


def snap_to_grid(mask: np.ndarray, grid: int) -> np.ndarray:
    """(H, W) bool -> the same shape made of whole grid cells: a cell is in when at least half of
    its pixels are (the fullest cell when none is, so no thing vanishes)."""
    if grid == 1:
        return mask
    h, w = mask.shape
    cover = mask.reshape(h // grid, grid, w // grid, grid).mean(axis=(1, 3))  # (H/g, W/g)
    cells = cover >= 0.5
    if not cells.any():
        cells = cover == cover.max()
    return cells.repeat(grid, axis=0).repeat(grid, axis=1)


def render_scene(ds: MiniDataset, rng: np.random.Generator, world: WorldSize) -> Tuple[np.ndarray, np.ndarray]:
    """-> (H, W, 3) uint8 image and (H, W) class indices into ``ds.classes`` (255: unlabelled),
    at the world's image size, with its number and size of things."""
    size, objects = world.image_size, world.objects
    low, high = world.thing_range
    h = w = size
    image = np.zeros((h, w, 3), dtype=np.float32)
    label = np.full((h, w), 255, dtype=np.uint8)
    regions: List[Optional[str]] = []
    backgrounds = list(ds.stuff) + ([BACKGROUND] if ds.background_class else [])
    if not backgrounds:  # VOC-like: an unlabelled grey background
        regions = [None]
    else:
        regions = list(rng.choice(backgrounds, size=int(rng.integers(1, 3)), replace=False))
    split = int(rng.integers(h // 3, 2 * h // 3 + 1))
    split = max(world.grid, round(split / world.grid) * world.grid)  # on the grid, inside the image
    vertical = bool(rng.integers(2))
    y, x = np.mgrid[0:h, 0:w]
    for k, region in enumerate(regions):
        mask = np.ones((h, w), dtype=bool) if len(regions) == 1 else (((x if vertical else y) < split) == (k == 0))
        image[mask] = stuff_texture(region or BACKGROUND, h, w, rng)[mask]
        if region is not None:
            label[mask] = ds.classes.index(region)
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        name = str(rng.choice(ds.things))
        colour, tex = name.split(" ")
        mask = snap_to_grid(shape_mask(h, w, rng, low, high), world.grid)
        image[mask] = texture(tex, COLOURS[colour], h, w, rng)[mask]
        label[mask] = ds.classes.index(name)
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), label


def render_single(name: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One class alone: a thing on a grey or stuff background, or a stuff class filling the image."""
    return render_single_labelled(name, rng, size)[0]


def render_single_labelled(name: str, rng: np.random.Generator, size: int = 32) -> Tuple[np.ndarray, List[str], np.ndarray]:
    """:func:`render_single` with its labels: the image, the class names it shows and an (H, W)
    index into them per pixel (-1 on a grey background). Draws the same random numbers."""
    label = np.zeros((size, size), dtype=np.int64)
    if name in STUFF:
        image = stuff_texture(name, size, size, rng)
        names = [name]
    else:
        background = str(rng.choice([BACKGROUND, *STUFF]))
        image = stuff_texture(background, size, size, rng)
        colour, tex = name.split(" ")
        mask = shape_mask(size, size, rng, *clip_thing_size(size))
        image[mask] = texture(tex, COLOURS[colour], size, size, rng)[mask]
        names = [name] if background == BACKGROUND else [name, background]
        label[:] = -1 if background == BACKGROUND else 1
        label[mask] = 0
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), names, label

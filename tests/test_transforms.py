"""The published augmentation and test-time resize."""
import numpy as np
import torch

from zegclip.config import AugmentConfig
from zegclip.data.transforms import (hsv_to_rgb, random_crop, rescale_size, rgb_to_hsv, eval_transform,
                                     train_transform)


def _scene(h=60, w=90):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    label = np.full((h, w), 255, dtype=np.uint8)
    label[:, : w // 2] = 3
    label[:, w // 2:] = 7
    return image, label


def test_keep_ratio_rescale_matches_mmcv():
    assert rescale_size(375, 500, (2048, 512)) == (512, 683)  # short side to 512
    assert rescale_size(100, 1000, (2048, 512)) == (205, 2048)  # long side bound
    assert rescale_size(375, 500, (1024, 256)) == (256, 341)


def test_train_transform_gives_crops_padding_and_is_deterministic_per_seed():
    cfg = AugmentConfig(crop=64, scale=(256, 48), ratio_range=(0.5, 1.0))
    image, label = _scene()
    img, lbl, valid = train_transform(image, label, cfg, np.random.default_rng(5))
    assert img.shape == (3, 64, 64) and lbl.shape == (64, 64) and valid.shape == (64, 64)
    assert (lbl[~valid] == 255).all() and (img[:, ~valid] == 0).all()  # padding: ignore and zeros
    assert not valid.all()  # the rescaled image is smaller than the crop: it was padded
    assert set(lbl[valid].unique().tolist()) <= {3, 7, 255}
    again = train_transform(image, label, cfg, np.random.default_rng(5))
    assert all(torch.equal(a, b) for a, b in zip((img, lbl, valid), again))
    other = train_transform(image, label, cfg, np.random.default_rng(6))
    assert not torch.equal(img, other[0])


def test_crop_is_redrawn_until_no_class_dominates():
    label = torch.full((100, 100), 1, dtype=torch.uint8)
    label[:, 90:] = 2  # only crops touching the right edge hold two classes
    image = torch.zeros(3, 100, 100)
    hits = 0
    for seed in range(30):
        _, crop = random_crop(image, label, 20, 0.75, np.random.default_rng(seed))
        counts = torch.bincount(crop.flatten().long())
        counts = counts[counts > 0]
        hits += len(counts) > 1 and counts.max() / counts.sum() < 0.75
    # a single draw satisfies the rule with probability ~5%; ten re-draws raise it a lot
    assert hits >= 8


def test_hsv_round_trip():
    rgb = torch.rand(3, 8, 8)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-5)


def test_test_transform_resizes_the_short_side_and_normalises():
    cfg = AugmentConfig()
    image, _ = _scene(375, 500)
    img = eval_transform(image, cfg)
    assert img.shape == (3, 512, 683)
    flat = np.full((10, 10, 3), (123.675, 116.28, 103.53), dtype=np.float32).round().astype(np.uint8)
    assert eval_transform(flat, AugmentConfig(test_scale=(10, 10))).abs().max() < 0.02

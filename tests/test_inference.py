"""Scores, the seen-class calibration and slide inference."""
import pytest
import torch

from zegclip.config import ConfigError
from zegclip.config.schema import InferenceConfig
from zegclip.model.inference import predict_labels, slide_average, window_starts


def test_seen_bias_moves_close_calls_to_unseen_classes(tiny_config):
    cfg = tiny_config()
    p = torch.tensor([0.60, 0.55])  # class 0 seen, class 1 unseen
    logits = torch.log(p / (1 - p)).view(1, 2, 1, 1)
    seen = torch.tensor([True, False])
    assert predict_labels(logits, cfg).item() == 0
    assert predict_labels(logits, cfg, seen).item() == 1
    ce = tiny_config(loss={"kind": "ce"})
    assert predict_labels(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1), ce).item() == 0


def test_windows_cover_the_image_and_end_at_the_border():
    assert window_starts(512, 512, 426) == [0]
    assert window_starts(683, 512, 426) == [0, 171]
    assert window_starts(1000, 512, 426) == [0, 426, 488]
    assert window_starts(300, 512, 426) == [0]


def test_slide_average_of_a_position_equivariant_function_is_that_function():
    images = torch.randn(2, 3, 100, 150)
    fn = lambda w: w[:, :2] * 3.0  # per-pixel function: the slide result must equal it everywhere
    out = slide_average(fn, images, crop=64, stride=40)
    assert out.shape == (2, 2, 100, 150)
    assert torch.allclose(out, images[:, :2] * 3.0, atol=1e-6)
    small = slide_average(fn, images[:, :, :50, :60], crop=64, stride=40)
    assert torch.allclose(small, images[:, :2, :50, :60] * 3.0, atol=1e-6)


def test_slide_windows_cover_every_pixel_for_every_crop_stride_and_size_the_config_accepts():
    """Exhaustive over sides up to 3 crops long: every (crop, stride) that InferenceConfig accepts
    covers every pixel, and every stride it refuses (beyond the crop) would have left a gap."""
    for crop in range(1, 25):
        for stride in range(1, 2 * crop + 3):
            accepted = _accepts(crop, stride)
            gaps = []
            for size in range(1, 3 * crop + 4):
                covered = torch.zeros(size, dtype=torch.bool)
                for start in window_starts(size, crop, stride):
                    assert 0 <= start < size
                    covered[start:start + crop] = True
                if not covered.all():
                    gaps.append(size)
            assert accepted == (stride <= crop)
            assert not (accepted and gaps), (crop, stride, gaps)
            assert accepted or gaps, (crop, stride)  # the refused ones really would leave holes


def test_slide_windows_cover_large_images_too():
    """Random paper-sized settings (crops to 1024, any accepted stride, sides to 4096): the
    windows, in order, leave no gap between them and reach both borders."""
    import random

    rng = random.Random(0)
    for _ in range(3000):
        crop = rng.randint(1, 1024)
        stride = rng.randint(1, crop)
        size = rng.randint(1, 4096)
        starts = window_starts(size, crop, stride)
        assert starts[0] == 0 and starts[-1] + crop >= size
        assert all(b - a <= crop for a, b in zip(starts, starts[1:])), (crop, stride, size)


def _accepts(crop, stride):
    try:
        InferenceConfig(crop=crop, stride=stride)
        return True
    except ConfigError:
        return False


def test_a_stride_beyond_the_crop_is_refused_naming_both():
    with pytest.raises(ConfigError, match="model.inference.stride=600: expected at most model.inference.crop=512"):
        InferenceConfig(crop=512, stride=600)


def test_slide_average_refuses_windows_that_leave_pixels_without_a_score():
    images = torch.randn(1, 3, 20, 20)
    with pytest.raises(ValueError, match="uncovered"):
        slide_average(lambda w: w, images, crop=4, stride=6)  # only reachable past the config
    out = slide_average(lambda w: w[:, :2], torch.randn(1, 3, 37, 23), crop=5, stride=5)
    assert torch.isfinite(out).all()

"""Scores, the seen-class calibration and slide inference."""
import torch

from zegclip.model.inference import _starts, predict_labels, slide_average


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
    assert _starts(512, 512, 426) == [0]
    assert _starts(683, 512, 426) == [0, 171]
    assert _starts(1000, 512, 426) == [0, 426, 488]
    assert _starts(300, 512, 426) == [0]


def test_slide_average_of_a_position_equivariant_function_is_that_function():
    images = torch.randn(2, 3, 100, 150)
    fn = lambda w: w[:, :2] * 3.0  # per-pixel function: the slide result must equal it everywhere
    out = slide_average(fn, images, crop=64, stride=40)
    assert out.shape == (2, 2, 100, 150)
    assert torch.allclose(out, images[:, :2] * 3.0, atol=1e-6)
    small = slide_average(fn, images[:, :, :50, :60], crop=64, stride=40)
    assert torch.allclose(small, images[:, :2, :50, :60] * 3.0, atol=1e-6)

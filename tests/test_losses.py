"""Losses against hand computations on a 2-class, 2x2 example written in plain Python."""
import math

import pytest
import torch

from zegclip.config import LossConfig
from zegclip.model.losses import segmentation_loss

LOGITS = [[[2.0, -1.0], [0.5, -3.0]],   # class 0
          [[-0.5, 1.5], [1.0, 0.0]]]    # class 1
LABELS = [[0, 255], [1, 0]]             # 255: ignore, a negative for every class
# Three classes, the third absent from the ground truth: it counts in focal/BCE, not in dice or n.
LOGITS3 = LOGITS + [[[0.3, -0.2], [-1.0, 2.0]]]


def sig(x):
    return 1 / (1 + math.exp(-x))


def pixels(c):
    return [(LOGITS3[c][i][j], 1.0 if LABELS[i][j] == c else 0.0) for i in range(2) for j in range(2)]


def bce(x, y):
    p = sig(x)
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def focal(x, y, alpha=0.25, gamma=2.0):
    p = sig(x)
    p_t = p if y else 1 - p
    a_t = alpha if y else 1 - alpha
    return a_t * (1 - p_t) ** gamma * bce(x, y)


def dice(c):
    px = pixels(c)
    num = 2 * sum(sig(x) * y for x, y in px) + 1
    den = sum(sig(x) for x, _ in px) + sum(y for _, y in px) + 1
    return 1 - num / den


N_PRESENT = 2  # classes 0 and 1 appear in the image


def _run(kind, **kw):
    logits = torch.tensor([LOGITS3])
    labels = torch.tensor([LABELS])
    return segmentation_loss(logits, labels, LossConfig(kind=kind, **kw))


def test_focal_and_dice_match_hand_computation():
    terms = _run("plus")
    focal_hand = sum(sum(focal(x, y) for x, y in pixels(c)) / 4 for c in range(3)) / N_PRESENT
    dice_hand = (dice(0) + dice(1)) / N_PRESENT
    assert terms["focal"].item() == pytest.approx(100 * focal_hand, rel=1e-5)
    assert terms["dice"].item() == pytest.approx(dice_hand, rel=1e-5)


def test_loss_weights_scale_the_terms():
    a, b = _run("plus"), _run("plus", focal_weight=20.0, dice_weight=3.0)
    assert b["focal"].item() == pytest.approx(a["focal"].item() / 5, rel=1e-6)
    assert b["dice"].item() == pytest.approx(3 * a["dice"].item(), rel=1e-6)


def test_plain_is_binary_cross_entropy_only():
    terms = _run("plain")
    hand = sum(sum(bce(x, y) for x, y in pixels(c)) / 4 for c in range(3)) / N_PRESENT
    assert set(terms) == {"bce"} and terms["bce"].item() == pytest.approx(hand, rel=1e-5)


def test_ce_is_softmax_cross_entropy_ignoring_255():
    terms = _run("ce")
    losses = []
    for i in range(2):
        for j in range(2):
            if LABELS[i][j] == 255:
                continue
            z = [LOGITS3[c][i][j] for c in range(3)]
            losses.append(-(z[LABELS[i][j]] - math.log(sum(math.exp(v) for v in z))))
    assert set(terms) == {"ce"} and terms["ce"].item() == pytest.approx(sum(losses) / len(losses), rel=1e-5)


def test_all_ignored_batch_gives_finite_loss():
    logits = torch.zeros(1, 2, 2, 2)
    labels = torch.full((1, 2, 2), 255)
    terms = segmentation_loss(logits, labels, LossConfig())
    assert all(torch.isfinite(v) for v in terms.values())

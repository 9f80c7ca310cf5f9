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


def _autograd_reference(logits, labels, kind, alpha=0.25, gamma=2.0):
    """The losses as plain tensor expressions with dense one-hot targets, differentiated by autograd."""
    valid = labels != 255
    y = torch.nn.functional.one_hot(torch.where(valid, labels, 0), logits.shape[1]).permute(0, 3, 1, 2)
    y = (y * valid.unsqueeze(1)).to(logits.dtype)
    n = (y.flatten(2).amax(-1) > 0).sum().clamp(min=1)
    p = logits.sigmoid()
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    if kind == "plain":
        return {"bce": ce.flatten(2).mean(-1).sum() / n}
    p_t, a_t = p * y + (1 - p) * (1 - y), alpha * y + (1 - alpha) * (1 - y)
    focal = (a_t * (1 - p_t) ** gamma * ce).flatten(2).mean(-1).sum() / n
    pf, yf = p.flatten(2), y.flatten(2)
    d = 1 - (2 * (pf * yf).sum(-1) + 1) / (pf.sum(-1) + yf.sum(-1) + 1)
    return {"focal": 100 * focal, "dice": (d * (yf.amax(-1) > 0)).sum() / n}


@pytest.mark.parametrize("kind,gamma", [("plus", 2.0), ("plus", 1.5), ("plain", 2.0)])
def test_hand_written_gradients_match_autograd(kind, gamma):
    g = torch.Generator().manual_seed(0)
    logits = (3 * torch.randn(2, 5, 6, 7, generator=g, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(0, 4, (2, 6, 7), generator=g)  # class 4 never present
    labels[0, :2] = 255
    ours = segmentation_loss(logits, labels, LossConfig(kind=kind, focal_gamma=gamma))
    ref = _autograd_reference(logits, labels, kind, gamma=gamma)
    assert set(ours) == set(ref)
    weights = {k: float(i + 1) for i, k in enumerate(sorted(ours))}  # distinct weights per term
    (grad,) = torch.autograd.grad(sum(weights[k] * v for k, v in ours.items()), logits)
    (expected,) = torch.autograd.grad(sum(weights[k] * v for k, v in ref.items()), logits)
    for k in ours:
        assert ours[k].item() == pytest.approx(ref[k].item(), rel=1e-10)
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)


def test_gradcheck_of_focal_and_dice():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(1, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (1, 4, 4), generator=g)
    labels[0, 0] = 255
    cfg = LossConfig(kind="plus")
    assert torch.autograd.gradcheck(lambda x: sum(segmentation_loss(x, labels, cfg).values()), (logits,))

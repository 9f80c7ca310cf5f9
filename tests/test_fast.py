"""Each fast CPU kernel (zegclip/model/fast.py) against the plain computation it replaces:
same values, same gradients."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from zegclip.model import fast


def _grads(fn, *inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    weights = [float(i + 2) for i in range(len(outs))]  # distinct weights per output
    total = sum(w * o.sum() for w, o in zip(weights, outs))
    return outs, torch.autograd.grad(total, [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad])


def test_softplus_matches_torch():
    x = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    torch.testing.assert_close(fast.softplus(x), fast.softplus_plain(x), rtol=0, atol=1e-7)


@pytest.mark.parametrize("a_pos,a_neg,gamma", [(0.25, 0.75, 2.0), (0.25, 0.75, 1.5), (1.0, 1.0, 0.0)])
def test_sigmoid_mask_loss_matches_autograd_over_one_hot_targets(a_pos, a_neg, gamma):
    g = torch.Generator().manual_seed(0)
    B, C, H, W = 2, 5, 6, 7
    logits = (3 * torch.randn(B, C, H, W, generator=g, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(0, C - 1, (B, 1, H * W), generator=g)  # class C-1 never present
    valid = torch.rand(B, 1, H * W, generator=g) > 0.2
    own = torch.where(valid, labels, torch.zeros_like(labels))
    count = torch.zeros(B, C, dtype=torch.float64).scatter_add_(1, own[:, 0], valid[:, 0].double())
    n = (count > 0).sum().double().clamp(min=1)
    args = (own, valid, count, a_pos, a_neg, gamma, n)
    (f1, d1), g1 = _grads(lambda x: fast.SigmoidMaskLoss.apply(x, *args), logits)
    (f2, d2), g2 = _grads(lambda x: fast.sigmoid_mask_loss_plain(x, *args), logits)
    torch.testing.assert_close((f1, d1), (f2, d2), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-12)


def test_self_attention_matches_multihead_attention():
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(32, 4, batch_first=True).double()
    x = torch.randn(3, 17, 32, dtype=torch.float64, requires_grad=True)
    o1, g1 = _grads(lambda t: fast.self_attention(attn, t), x)
    o2, g2 = _grads(lambda t: fast.self_attention_plain(attn, t), x)
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("src,dst", [((8, 8), (32, 32)), ((7, 5), (64, 48)), ((16, 16), (16, 16)), ((9, 12), (5, 7))])
def test_upsample_matches_bilinear_interpolation(src, dst):
    x = torch.randn(2, 3, *src, dtype=torch.float64, requires_grad=True)
    o1, g1 = _grads(lambda t: fast.upsample(t, dst), x)
    o2, g2 = _grads(lambda t: fast.upsample_plain(t, dst), x)
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(g1, g2)


def test_dropout_keeps_what_nn_dropout_keeps():
    x = torch.ones(200_000)
    ours, plain = fast.Dropout(0.25), fast.Dropout_plain(0.25)
    for m in (ours, plain):
        m.eval()
        assert torch.equal(m(x), x)  # off in evaluation
        m.train()
    a, b = ours(x), plain(x)
    kept = torch.tensor(1 / 0.75)  # dropped, or kept and rescaled
    assert set(a.unique().tolist()) == set(b.unique().tolist()) == {0.0, kept.item()}
    assert abs((a > 0).double().mean().item() - 0.75) < 0.005 and abs((b > 0).double().mean().item() - 0.75) < 0.005

"""The ZegCLIP model at tiny size: trainable sets, prompt placement, query formats, encoder quirks."""
import math

import pytest
import torch
import torch.nn.functional as F

from zegclip.config import ConfigError
from zegclip.model import ZegCLIP
from zegclip.model.clip import text_tower_parameters
from zegclip.model.encoder import resize_positional_embedding
from zegclip.catalog.queries import QUERY_FORMATS, query_parts

C = 5  # classes


def _text(model):
    return F.normalize(torch.randn(C, model.clip.visual.output_dim), dim=-1)


def _names(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_dpt_trains_only_prompts_query_projection_and_decoder(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"mode": "dpt"}))
    prefixes = ("prompts.", "query_proj.", "decoder.")
    assert _names(model) and all(n.startswith(prefixes) for n in _names(model))
    assert {n.split(".")[0] + "." for n in _names(model)} == set(prefixes)
    assert "prompts.norm.weight" in _names(model)

    out = model(torch.randn(2, 3, 64, 64), _text(model))
    assert out["masks"].shape == (2, C, 64, 64)
    model.loss(out, torch.randint(0, C, (2, 64, 64)))["focal"].backward()
    for name in ("prompts.embeddings", "prompts.proj.weight", "prompts.norm.weight", "query_proj.weight",
                 "decoder.layers.0.cross_attn.q.weight", "decoder.layers.2.cross_attn.k.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert all(p.grad is None for p in model.clip.parameters())


def test_fix_has_no_prompts_and_a_frozen_encoder(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"mode": "fix"}))
    assert model.prompts is None
    assert not any(p.requires_grad for p in model.clip.parameters())
    assert all(n.startswith(("query_proj.", "decoder.")) for n in _names(model))


def test_ft_trains_every_image_encoder_parameter_and_never_the_text_encoder(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"mode": "ft"}))
    assert model.prompts is None
    assert all(p.requires_grad for p in model.clip.visual.parameters())
    out = model(torch.randn(1, 3, 64, 64), _text(model))
    model.loss(out, torch.randint(0, C, (1, 64, 64)))["focal"].backward()
    assert model.clip.visual.conv1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["fix", "ft", "dpt"])
def test_text_encoder_never_trains(tiny_config, mode):
    model = ZegCLIP(tiny_config(encoder={"mode": mode}))
    text_params = text_tower_parameters(model.clip)
    assert text_params and not any(p.requires_grad for p in text_params)


@pytest.mark.parametrize("fmt", sorted(QUERY_FORMATS))
def test_every_table4_query_format_has_the_right_width(tiny_config, fmt):
    model = ZegCLIP(tiny_config(decoder={"query": fmt}))
    E = model.clip.visual.output_dim
    expected = {"t": 1, "t_mul_g": 1, "abs_t_sub_g": 1, "t_sub_g": 1, "t_add_g": 1,
                "cat_tmulg_tsubg_t": 3, "cat_tmulg_abstsubg_t": 3}.get(fmt, 2)
    assert query_parts(fmt) == expected
    assert model.query_proj.in_features == expected * E and model.query_proj.out_features == E
    assert model(torch.randn(1, 3, 64, 64), _text(model))["masks"].shape == (1, C, 64, 64)


def test_zegclip_query_is_t_times_g_then_t():
    t, g = torch.randn(4, 8), torch.randn(2, 8)
    from zegclip.catalog.queries import make_queries
    q = make_queries("cat_tmulg_t", t, g)
    assert q.shape == (2, 4, 16)
    assert torch.allclose(q[1, 3], torch.cat([t[3] * g[1], t[3]]))


TABLE8 = [(1, 1), (1, 3), (1, 6), (1, 9), (1, 12), (10, 12), (7, 12), (4, 12)]


@pytest.mark.parametrize("layers", TABLE8)
def test_table8_ranges_insert_prompts_at_exactly_the_stated_layers(tiny_config, layers):
    P = 3
    model = ZegCLIP(tiny_config(encoder={"prompt": {"tokens": P, "layers": list(layers)}}))
    seen = {}
    hooks = [blk.ln_1.register_forward_pre_hook(lambda m, a, i=i: seen.__setitem__(i, a[0].shape[1]))
             for i, blk in enumerate(model.clip.visual.transformer.resblocks, start=1)]
    model.eval()
    model(torch.randn(1, 3, 64, 64), _text(model))
    for h in hooks:
        h.remove()
    hw = (64 // 16) ** 2
    for layer in range(1, 13):
        assert seen[layer] == 1 + hw + (P if layers[0] <= layer <= layers[1] else 0), layer
    assert model.prompts.embeddings.shape == (layers[1] - layers[0] + 1, P, 32)


def test_prompts_are_replaced_not_accumulated_at_each_layer(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"prompt": {"tokens": 2, "layers": [1, 3]}, "drop_path": 0.0}))
    model.eval()
    inputs = {}
    for i in (2, 3):
        model.clip.visual.transformer.resblocks[i - 1].ln_1.register_forward_pre_hook(
            lambda m, a, i=i: inputs.__setitem__(i, a[0][0, 1:3].clone()))
    model(torch.randn(1, 3, 64, 64), _text(model))
    for i in (2, 3):
        assert torch.allclose(inputs[i], model.prompts(i, 1)[0])


def test_prompt_range_beyond_depth_fails_at_construction(tiny_config):
    with pytest.raises(ConfigError, match=r"model.encoder.prompt.layers=\[1, 13\] is outside 1..12"):
        ZegCLIP(tiny_config(encoder={"prompt": {"layers": [1, 13]}}))


def test_unknown_open_clip_model_fails_naming_the_option(tiny_config):
    with pytest.raises(ConfigError, match=r"model.clip.model='ViT-Q-99' is not an open_clip model"):
        ZegCLIP(tiny_config(clip={"model": "ViT-Q-99"}))


def test_positional_grid_is_resized_bilinearly_with_the_class_position_kept():
    pos = torch.randn(1 + 14 * 14, 8)
    out = resize_positional_embedding(pos, (32, 32))
    assert out.shape == (1 + 32 * 32, 8)
    assert torch.equal(out[0], pos[0])
    grid = pos[1:].T.reshape(1, 8, 14, 14)
    expected = F.interpolate(grid, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(out[1:].T.reshape(1, 8, 32, 32), expected)
    bicubic = F.interpolate(grid, size=(32, 32), mode="bicubic", align_corners=False)
    assert not torch.allclose(out[1:].T.reshape(1, 8, 32, 32), bicubic)


@pytest.mark.parametrize("double", [True, False])
def test_class_token_enters_with_the_doubled_class_embedding(tiny_config, double):
    model = ZegCLIP(tiny_config(encoder={"mode": "fix", "double_class_embedding": double}))
    model.eval()
    visual = model.clip.visual
    got = {}
    visual.transformer.resblocks[0].ln_1.register_forward_pre_hook(lambda m, a: got.setdefault("x", a[0]))
    model(torch.randn(1, 3, 64, 64), _text(model))
    k = 2.0 if double else 1.0
    expected = visual.ln_pre(k * visual.class_embedding + visual.positional_embedding[0])
    assert torch.allclose(got["x"][0, 0], expected, atol=1e-5)


def test_stochastic_depth_is_active_in_training_only(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"mode": "fix", "drop_path": 0.5}))
    images, text = torch.randn(4, 3, 64, 64), _text(model)
    model.eval()
    a, b = model(images, text)["g"], model(images, text)["g"]
    assert torch.equal(a, b)
    model.train()
    for m in model.modules():  # keep only stochastic depth random: no dropout
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    torch.manual_seed(1)
    c = model(images, text)["g"]
    torch.manual_seed(2)
    d = model(images, text)["g"]
    assert not torch.allclose(c, d)


def test_outputs_are_normalised_and_masks_are_head_averaged_logits(tiny_config):
    model = ZegCLIP(tiny_config())
    model.eval()
    out = model(torch.randn(2, 3, 64, 64), _text(model))
    assert torch.allclose(out["g"].norm(dim=-1), torch.ones(2), atol=1e-5)
    assert len(out["layer_masks"]) == 3 and out["layer_masks"][-1].shape == (2, C, 4, 4)
    up = F.interpolate(out["layer_masks"][-1], size=(64, 64), mode="bilinear", align_corners=False)
    assert torch.allclose(out["masks"], up)


def test_deep_supervision_adds_every_layer_and_is_off_by_default(tiny_config):
    labels = torch.randint(0, C, (1, 64, 64))
    plain = ZegCLIP(tiny_config())
    assert set(plain.loss(plain(torch.randn(1, 3, 64, 64), _text(plain)), labels)) == {"focal", "dice"}
    deep = ZegCLIP(tiny_config(decoder={"deep_supervision": True}))
    terms = deep.loss(deep(torch.randn(1, 3, 64, 64), _text(deep)), labels)
    assert {"layer1.focal", "layer2.dice", "focal"} <= set(terms) and "layer3.focal" not in terms


@pytest.mark.parametrize("prior", [0.01, 0.1, 0.5])
def test_mask_prior_shifts_every_layer_by_its_log_odds_and_adds_no_parameter(tiny_config, prior):
    torch.manual_seed(0)
    base = ZegCLIP(tiny_config()).eval()
    torch.manual_seed(0)
    shifted = ZegCLIP(tiny_config(decoder={"mask_prior": prior})).eval()
    assert [p.shape for p in shifted.parameters()] == [p.shape for p in base.parameters()]
    images, text = torch.randn(2, 3, 64, 64), _text(base)
    a, b = base(images, text), shifted(images, text)
    offset = math.log(prior / (1 - prior))
    for la, lb in zip(a["layer_masks"], b["layer_masks"]):
        assert torch.allclose(lb - la, torch.full_like(la, offset), atol=1e-5)
    # at initialisation the attention logits are near 0, so every class's score starts near the prior
    assert abs(b["masks"].sigmoid().mean().item() - prior) < 0.02


def test_mask_prior_leaves_the_softmax_loss_unchanged_and_moves_the_sigmoid_one(tiny_config):
    labels = torch.randint(0, C, (2, 64, 64))
    losses = {}
    for kind in ("ce", "plus"):
        for prior in (None, 0.1):
            torch.manual_seed(0)
            model = ZegCLIP(tiny_config(loss={"kind": kind}, decoder={"mask_prior": prior})).eval()
            torch.manual_seed(1)
            out = model(torch.randn(2, 3, 64, 64), _text(model))
            losses[kind, prior] = sum(model.loss(out, labels).values()).item()
    assert losses["ce", None] == pytest.approx(losses["ce", 0.1], rel=1e-5)
    assert losses["plus", 0.1] != pytest.approx(losses["plus", None], rel=0.05)  # scores start near 0.1, not 0.5


def test_patch_scale_equals_key_and_value_maps_scaled_by_it(tiny_config):
    """Scaling the decoder's input tokens by s is the published decoder whose key and value
    weights (not biases) are s times larger: same function, other starting point for the optimiser."""
    torch.manual_seed(0)
    base = ZegCLIP(tiny_config()).eval()
    torch.manual_seed(0)
    scaled = ZegCLIP(tiny_config(decoder={"patch_scale": 8.0})).eval()
    assert [p.shape for p in scaled.parameters()] == [p.shape for p in base.parameters()]
    images, text = torch.randn(2, 3, 64, 64), _text(base)
    a, b = base(images, text), scaled(images, text)
    assert not torch.allclose(a["masks"], b["masks"], atol=1e-4)
    with torch.no_grad():
        for layer in base.decoder.layers:
            layer.cross_attn.k.weight.mul_(8.0)
            layer.cross_attn.v.weight.mul_(8.0)
    for la, lb in zip(base(images, text)["layer_masks"], b["layer_masks"]):
        assert torch.allclose(la, lb, atol=1e-5)


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_patch_scale_must_be_positive(tiny_config, scale):
    with pytest.raises(ConfigError, match="model.decoder.patch_scale"):
        tiny_config(decoder={"patch_scale": scale})


@pytest.mark.parametrize("prior", [0.0, 1.0, -0.2, 2])
def test_mask_prior_outside_the_open_unit_interval_is_refused(tiny_config, prior):
    with pytest.raises(ConfigError, match="model.decoder.mask_prior"):
        tiny_config(decoder={"mask_prior": prior})


def test_published_param_count_adds_the_unused_self_attention(tiny_config):
    model = ZegCLIP(tiny_config())
    E = model.clip.visual.output_dim
    trainable = sum(p.numel() for p in model.trainable_parameters())
    mha = torch.nn.MultiheadAttention(E, 8)
    unused = 3 * (sum(p.numel() for p in mha.parameters()) + 2 * E)
    assert model.published_param_count() == trainable + unused


@pytest.mark.parametrize("src,dst", [((8, 8), (32, 32)), ((3, 5), (7, 12)), ((6, 6), (6, 6)), ((9, 7), (4, 5))])
def test_mask_upsampling_is_bilinear_without_aligned_corners(src, dst):
    from zegclip.model.fast import upsample

    x = torch.randn(2, 3, *src, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 3, *dst, dtype=torch.float64)
    ours = upsample(x, dst)
    ref = F.interpolate(x, size=dst, mode="bilinear", align_corners=False)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(ref, x, g)[0])


def test_encoder_blocks_compute_what_open_clip_blocks_compute(tiny_config):
    from zegclip.model.encoder import run_block

    model = ZegCLIP(tiny_config(encoder={"mode": "fix"})).eval()
    x = torch.randn(2, 17, model.clip.visual.conv1.out_channels)
    for block in model.clip.visual.transformer.resblocks:
        torch.testing.assert_close(run_block(block, x, 0.0), block(x))


def test_decoder_dropout_keeps_1_minus_p_and_rescales_in_training_only():
    from zegclip.model.fast import Dropout

    drop = Dropout(0.25)
    x = torch.ones(200_000)
    y = drop(x)
    assert torch.unique(y).tolist() == pytest.approx([0.0, 1 / 0.75])
    assert (y > 0).float().mean().item() == pytest.approx(0.75, abs=0.005)
    assert torch.equal(drop.eval()(x), x)

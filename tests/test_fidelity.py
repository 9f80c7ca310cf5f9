"""Published behaviours reproduced by default (README "Fidelity"), each with its named option off."""
import open_clip
import pytest
import torch
import torch.nn.functional as F

from zegclip.config import RunConfig, TrainConfig
from zegclip.engine.optim import parameter_groups
from zegclip.model import ZegCLIP
from zegclip.model import text as text_mod
from zegclip.model.encoder import resize_positional_embedding
from zegclip.model.inference import calibrated_scores, slide_scores

C = 4


def _text(model):
    return F.normalize(torch.randn(C, model.clip.visual.output_dim), dim=-1)


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout) or type(m).__name__ == "Dropout":
            m.p = 0.0
    return model


def test_stochastic_depth_is_inactive_by_default_as_in_the_published_blocks(tiny_config):
    assert RunConfig().model.encoder.drop_path == 0.0
    model = _no_dropout(ZegCLIP(tiny_config(encoder={"mode": "ft"}))).train()
    images, text = torch.randn(4, 3, 64, 64), _text(model)
    torch.manual_seed(1)
    a = model(images, text)["masks"]
    torch.manual_seed(2)
    b = model(images, text)["masks"]
    assert torch.equal(a, b)


def _two_window_case(tiny_config, fusion):
    """Two 64-px windows over a 64 x 96 image (overlap: columns 32..63), with per-window logits
    that disagree on the overlap."""
    cfg = tiny_config(inference={"crop": 64, "stride": 32, "fusion": fusion, "seen_bias": 0.1})
    images = torch.zeros(1, 3, 64, 96)
    images[..., 32:] = 1.0  # the second window sees different content from the first
    seen = torch.tensor([True, False, True, False])
    g = torch.Generator().manual_seed(0)
    per_window = {0.0: torch.randn(1, C, 64, 64, generator=g) * 3, 1.0: torch.randn(1, C, 64, 64, generator=g) * 3}
    logits_fn = lambda w: per_window[w[0, 0, 0, 0].item()]  # left edge: 0 in window x=0, 1 in x=32
    return cfg, images, seen, per_window, logits_fn


def test_slide_inference_averages_each_windows_calibrated_scores_by_default(tiny_config):
    cfg, images, seen, per_window, logits_fn = _two_window_case(tiny_config, "scores")
    assert RunConfig().model.inference.fusion == "scores"
    got = slide_scores(logits_fn, images, cfg, seen, (64, 96))
    s0, s1 = (calibrated_scores(per_window[k], cfg, seen) for k in (0.0, 1.0))
    expected = torch.zeros(1, C, 64, 96)
    expected[..., :32] = s0[..., :32]
    expected[..., 32:64] = (s0[..., 32:] + s1[..., :32]) / 2
    expected[..., 64:] = s1[..., 32:]
    torch.testing.assert_close(got, expected)

    # Resized to the label size after the average, bilinearly.
    up = slide_scores(logits_fn, images, cfg, seen, (128, 192))
    torch.testing.assert_close(up, F.interpolate(expected, size=(128, 192), mode="bilinear", align_corners=False))

    cfg_l, *_ = _two_window_case(tiny_config, "logits")
    by_logits = slide_scores(logits_fn, images, cfg_l, seen, (64, 96))
    mean_logits = (per_window[0.0][..., 32:] + per_window[1.0][..., :32]) / 2
    torch.testing.assert_close(by_logits[..., 32:64], calibrated_scores(mean_logits, cfg_l, seen))
    assert not torch.allclose(by_logits[..., 32:64], got[..., 32:64])


def test_learnable_layernorms_are_weight_decayed_by_default(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"mode": "ft"}))
    norms = {id(p): n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)
             for n, p in m.named_parameters(prefix=n) if p.requires_grad}
    assert any(n.startswith("decoder.") for n in norms.values())
    assert any(n.startswith("clip.visual.") for n in norms.values())
    decay_of = {id(p): g["weight_decay"] for g in parameter_groups(model, TrainConfig()) for p in g["params"]}
    assert all(decay_of[i] == 0.01 for i in norms)

    plain = {id(p): g["weight_decay"] for g in parameter_groups(model, TrainConfig(norm_decay=False))
             for p in g["params"]}
    assert all(plain[i] == 0.0 for i in norms)
    assert plain[id(model.query_proj.weight)] == 0.01

    dpt = ZegCLIP(tiny_config())
    decay_of = {n: g["weight_decay"] for g in parameter_groups(dpt, TrainConfig()) for n, p in dpt.named_parameters()
                if any(p is q for q in g["params"])}
    assert decay_of["prompts.norm.weight"] == 0.01 and decay_of["prompts.norm.bias"] == 0.01


def _b16_grid_clip(tiny_clip):
    """The test CLIP with ViT-B/16's pretrained grid: 224 px at patch 16 = 14 x 14."""
    return open_clip.create_model(tiny_clip, pretrained=None, force_image_size=224)


def _ln_pre_input(model, images):
    got = {}
    handle = model.clip.visual.ln_pre.register_forward_pre_hook(lambda m, a: got.setdefault("x", a[0]))
    model.eval()
    with torch.no_grad():
        model(images, _text(model))
    handle.remove()
    return got["x"]  # (B, 1+HW, D): class token and patches with positions, before ln_pre


@pytest.mark.parametrize("mode", ["two_step", "direct"])
def test_positions_are_resized_14_to_32_at_load_then_to_the_input_grid(tiny_config, tiny_clip, mode):
    clip = _b16_grid_clip(tiny_clip)
    pretrained = clip.visual.positional_embedding.detach().clone()  # (1+14*14, D)
    model = ZegCLIP(tiny_config(encoder={"mode": "fix", "image_size": 512, "pos_resize": mode}), clip=clip)
    assert RunConfig().model.encoder.pos_resize == "two_step"
    visual = model.clip.visual
    two_step = resize_positional_embedding(resize_positional_embedding(pretrained, (32, 32)), (24, 24))
    direct = resize_positional_embedding(pretrained, (24, 24))
    assert (two_step - direct).abs().max() > 1e-3  # the two orders differ off the 512 grid
    assert visual.positional_embedding.shape[0] == (1 + 32 * 32 if mode == "two_step" else 1 + 14 * 14)

    images = torch.randn(1, 3, 384, 384)
    x = _ln_pre_input(model, images)
    patches = visual.conv1(images).flatten(2).transpose(1, 2)  # (1, 24*24, D)
    tokens = torch.cat([2 * visual.class_embedding.view(1, 1, -1), patches], dim=1)
    torch.testing.assert_close(x, tokens + (two_step if mode == "two_step" else direct))


def test_voc_uses_the_published_template_without_a_period_and_fp16_embeddings(tiny_config):
    assert text_mod.TEMPLATES["single_no_period"] == ("a photo of a {}",)
    assert text_mod.TEMPLATES["single"] == ("a photo of a {}.",)
    from zegclip.config import load_preset
    assert load_preset("voc")["model"]["text"]["templates"] == "single_no_period"
    assert RunConfig().model.text.fp16 is True

    key = lambda fp16: text_mod.cache_key("m", "digest", text_mod.TEMPLATES["single"], ["cat"], fp16)
    assert key(True) != key(False)
    half = ZegCLIP(tiny_config())
    full = ZegCLIP(tiny_config(text={"fp16": False}), clip=half.clip)
    a, b = half.encode_classes(["cat", "dog"]), full.encode_classes(["cat", "dog"])
    assert a.dtype == b.dtype == torch.float32
    assert torch.equal(a, b.half().float()) and not torch.equal(a, b)
    assert torch.equal(a, half.encode_classes(["cat", "dog"]))  # the cache gives what was computed


def test_default_clip_is_vit_b16_with_quickgelu_as_the_openai_weights_need():
    name = RunConfig().model.clip.model
    cfg = open_clip.get_model_config(name)
    assert name == "ViT-B-16-quickgelu" and cfg["quick_gelu"] is True
    assert (cfg["vision_cfg"]["patch_size"], cfg["vision_cfg"]["width"], cfg["vision_cfg"]["layers"]) == (16, 768, 12)

"""Any open_clip ViT image tower: patch size, width, depth and heads are read from the model and
the positional grid is resized for the crop. Three tiny architectures (configs only, random
weights, no downloads) that differ in each of those, through a forward pass, a training step
and the text tower's class embeddings."""
from __future__ import annotations

import json

import open_clip
import pytest
import torch

from zegclip.config import ModelConfig, from_dict
from zegclip.model import ZegCLIP
from zegclip.model.text import encode_class_names

# name -> (vision_cfg, embed_dim, quick_gelu, crop): the crop is a multiple of the patch, and its
# grid differs from the pretrained one, so the positional embedding must be resized.
ARCHS = {
    "ZegCLIP-Test-P8-W48-L4": ({"image_size": 32, "layers": 4, "width": 48, "head_width": 16, "mlp_ratio": 2.0,
                                "patch_size": 8}, 32, False, 48),
    "ZegCLIP-Test-P14-W64-L6": ({"image_size": 42, "layers": 6, "width": 64, "head_width": 16, "mlp_ratio": 4.0,
                                 "patch_size": 14}, 48, True, 56),
    "ZegCLIP-Test-P32-W32-L3": ({"image_size": 64, "layers": 3, "width": 32, "head_width": 8, "mlp_ratio": 2.0,
                                 "patch_size": 32}, 32, False, 96),
}
TEXT = {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}


@pytest.fixture(scope="module", autouse=True)
def _registered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip_configs")
    for name, (vision, embed, quick, _) in ARCHS.items():
        (folder / f"{name}.json").write_text(json.dumps(
            {"embed_dim": embed, "quick_gelu": quick, "vision_cfg": vision, "text_cfg": TEXT}))
    open_clip.add_model_config(folder)


def _config(name: str, mode: str) -> ModelConfig:
    vision, _, _, crop = ARCHS[name]
    return from_dict(ModelConfig, {
        "clip": {"model": name, "pretrained": None},
        "encoder": {"mode": mode, "image_size": crop, "prompt": {"tokens": 2, "layers": [1, vision["layers"]]}},
        "decoder": {"heads": 4},
        "inference": {"crop": crop, "stride": crop // 2}}, "model")


@pytest.mark.parametrize("mode", ["dpt", "fix", "ft"])
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_any_open_clip_vit_trains_and_predicts(name, mode):
    vision, embed, _, crop = ARCHS[name]
    model = ZegCLIP(_config(name, mode))
    visual = model.clip.visual
    assert (visual.patch_size[0], len(visual.transformer.resblocks), visual.output_dim) == \
        (vision["patch_size"], vision["layers"], embed)
    grid = crop // vision["patch_size"]
    assert visual.positional_embedding.shape == (1 + grid * grid, vision["width"])  # resized once, at load

    tokenizer = open_clip.get_tokenizer(name)
    text = encode_class_names(model.clip, tokenizer, ["red disc", "blue square", "grass"], ["a {}."])  # (3, E)
    assert text.shape == (3, embed)
    images, labels = torch.randn(2, 3, crop, crop), torch.randint(0, 3, (2, crop, crop))
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=1e-3)
    model.train()
    out = model(images, text)
    assert out["masks"].shape == (2, 3, crop, crop)
    loss = sum(model.loss(out, labels).values())
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and any(not torch.equal(a, p) for a, p in zip(before, params))
    if mode == "ft":  # the image tower itself learns
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in visual.parameters())

    model.eval()
    with torch.no_grad():  # another input size: the grid follows the input
        assert model(torch.randn(1, 3, 2 * crop, crop), text)["masks"].shape == (1, 3, 2 * crop, crop)

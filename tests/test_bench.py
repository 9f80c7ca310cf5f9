"""zegclip bench at tiny size on CPU (a smoke test: it measures, the tests do not time it)."""
import json

import pytest
import torch
import torch.nn.functional as F

from zegclip.cli import main
from zegclip.model import ZegCLIP


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_bench_reports_every_figure(tiny_clip, mode, capsys):
    code = main(["bench", "--dataset", "voc", "--mode", mode, "--batch", "2", "--iters", "2", "--warmup", "1",
                 "--json", "--set", f"model.clip.model={tiny_clip}", "--set", "model.encoder.image_size=64"])
    assert code == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mode"] == mode and r["images_per_s"] > 0 and r["peak_memory_gib"] > 0
    assert r["achieved_tflops"] > 0 and r["gflop_per_image_forward"] > 0 and r["num_classes"] == 20


def test_bf16_autocast_matches_fp32_on_the_same_weights(tiny_config):
    model = ZegCLIP(tiny_config())
    model.eval()
    images, text = torch.randn(2, 3, 64, 64), F.normalize(torch.randn(5, 32), dim=-1)
    with torch.no_grad():
        ref = model(images, text)["masks"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = model(images, text)["masks"].float()
    assert (fast - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
    assert (fast.argmax(1) == ref.argmax(1)).float().mean() > 0.9


def test_training_mode_and_eval_mode_agree_without_stochastic_layers(tiny_config):
    model = ZegCLIP(tiny_config(encoder={"drop_path": 0.0}, decoder={}))
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    images, text = torch.randn(2, 3, 64, 64), F.normalize(torch.randn(5, 32), dim=-1)
    model.train()
    a = model(images, text)["masks"]
    model.eval()
    with torch.no_grad():
        b = model(images, text)["masks"]  # eval + no_grad takes PyTorch's fused attention fast path
    assert torch.allclose(a, b, atol=1e-5)

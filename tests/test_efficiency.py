"""The efficiency command at tiny size: attention is counted, params follow both conventions."""
import json

import pytest
import torch
import torch.nn.functional as F

from zegclip.cli import main
from zegclip.config import ConfigError
from zegclip.measure.efficiency import count_flops
from zegclip.model import ZegCLIP
from zegclip.engine.runtime import measurement_device


def test_fvcore_counts_attention_products_of_every_encoder_layer(tiny_config):
    P, C = 3, 5
    model = ZegCLIP(tiny_config(encoder={"prompt": {"tokens": P}}))
    text = F.normalize(torch.randn(C, 32), dim=-1)
    flops = count_flops(model, torch.randn(1, 3, 64, 64), text)
    assert not [op for op in flops.unsupported if "attention" in op]
    N, D = 1 + P + 16, 32
    sdpa = sum(v for k, v in flops.by_operator.items() if "attention" in k)
    assert sdpa == 12 * 2 * N * N * D
    # Bilinear resizes count as the published F.interpolate does, 4 flops per output element: the
    # masks' upsampling to 64x64 and, as in the published forward, the positions' resize to the
    # input grid (4x4 of width 32, an identity here but computed).
    assert flops.by_operator["upsample_bilinear2d"] == 4 * C * 64 * 64 + 4 * 16 * 32
    # Stays right with PyTorch's default fast path switched on outside the count.
    assert torch.backends.mha.get_fastpath_enabled()


def test_efficiency_command_reports_every_figure(tiny_clip, capsys):
    code = main(["efficiency", "--dataset", "voc", "--json", "--iters", "1", "--warmup", "0",
                 "--set", f"model.clip.model={tiny_clip}", "--set", "model.encoder.image_size=64"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    params = report["params_M"]
    assert params["published_convention"] > params["trainable"] >= params["receiving_gradients"] > 0
    assert report["num_classes"] == 20 and report["prompt_tokens"] == 10
    assert report["gflops"]["total"] > report["gflops"]["attention_products"] > 0
    assert report["throughput"]["images_per_s"] > 0


def test_efficiency_command_rejects_a_bad_option(capsys):
    code = main(["efficiency", "--dataset", "voc", "--iters", "0", "--set", "model.decoder.query=t_dot_g"])
    assert code == 2
    assert "model.decoder.query='t_dot_g' is not allowed" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["efficiency", "bench"])
def test_a_gpu_asked_for_by_name_must_be_visible_instead_of_timing_the_cpu(tiny_clip, command, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    extra = ["--mode", "infer"] if command == "bench" else []
    code = main([command, "--dataset", "voc", "--device", "cuda", *extra, "--set", f"model.clip.model={tiny_clip}"])
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    assert out.err.strip() == (f"zegclip {command}: error: --device cuda: no CUDA device is visible to this process "
                               f"(CUDA_VISIBLE_DEVICES=''); run it where a GPU is allocated (on SLURM: the rule's gpu "
                               f"resource), or pass --device cpu to measure the CPU")


def test_measurement_device_defaults_to_what_is_visible_and_refuses_other_names():
    assert measurement_device("cpu") == torch.device("cpu")
    assert measurement_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="--device tpu: not a device name; expected cpu, cuda or cuda:N"):
        measurement_device("tpu")
    with pytest.raises(ConfigError, match="expected cpu, cuda or cuda:N"):
        measurement_device("meta")


def test_flop_count_matches_a_head_that_upsamples_with_f_interpolate(tiny_config, monkeypatch):
    from zegclip.model.decoder import MaskUpsample

    model = ZegCLIP(tiny_config())
    images, text = torch.randn(1, 3, 64, 64), F.normalize(torch.randn(5, 32), dim=-1)
    ours = count_flops(model, images, text)
    monkeypatch.setattr(MaskUpsample, "forward", lambda self, masks, size: F.interpolate(
        masks, size=size, mode="bilinear", align_corners=False))
    published = count_flops(model, images, text)
    assert ours.total == published.total == sum(ours.by_operator.values())
    assert ours.by_operator == published.by_operator

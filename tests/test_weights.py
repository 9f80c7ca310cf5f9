"""Loading CLIP weights: local files, the OpenAI TorchScript conversion, and bad files."""
import pytest
import torch
import open_clip

from zegclip.cli import main
from zegclip.config import ConfigError
from zegclip.model import ZegCLIP
from zegclip.model.clip import WeightsError


@pytest.fixture
def openai_style_archive(tiny_clip, tmp_path):
    """A TorchScript archive of a tiny CLIP, the way OpenAI released ViT-B-16.pt."""
    clip = open_clip.create_model(tiny_clip)
    clip.register_buffer("input_resolution", torch.tensor(64))
    path = tmp_path / "tiny-openai.pt"
    torch.jit.script(clip).save(str(path))
    return clip, path


def test_archive_is_refused_with_a_pointer_to_the_conversion(tiny_config, openai_style_archive):
    _, path = openai_style_archive
    with pytest.raises(WeightsError, match=r"TorchScript archive.*zegclip prepare weights"):
        ZegCLIP(tiny_config(clip={"pretrained": str(path)}))


def test_prepare_weights_converts_and_the_model_loads_them(tiny_config, openai_style_archive, tmp_path, capsys):
    clip, path = openai_style_archive
    out = tmp_path / "weights" / "tiny.safetensors"
    assert main(["prepare", "weights", str(path), str(out)]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    model = ZegCLIP(tiny_config(clip={"pretrained": str(out)}))
    for name, ref in clip.state_dict().items():
        if name != "input_resolution":
            assert torch.equal(model.clip.state_dict()[name], ref), name


def test_plain_state_dict_loads_with_weights_only(tiny_clip, tiny_config, tmp_path):
    clip = open_clip.create_model(tiny_clip)
    path = tmp_path / "tiny.pt"
    torch.save(clip.state_dict(), path)
    model = ZegCLIP(tiny_config(clip={"pretrained": str(path)}))
    assert torch.equal(model.clip.visual.proj, clip.visual.proj)


def test_truncated_weights_file_names_the_file(tiny_clip, tiny_config, tmp_path):
    clip = open_clip.create_model(tiny_clip)
    path = tmp_path / "tiny.pt"
    torch.save(clip.state_dict(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match=rf"could not load CLIP weights {path}"):
        ZegCLIP(tiny_config(clip={"pretrained": str(path)}))


def test_missing_file_and_unknown_tag(tiny_config, tmp_path):
    with pytest.raises(WeightsError, match=r"nothere.safetensors does not exist"):
        ZegCLIP(tiny_config(clip={"pretrained": str(tmp_path / "nothere.safetensors")}))
    with pytest.raises(ConfigError, match=r"model.clip.pretrained='laion9b' is not a pretrained tag"):
        ZegCLIP(tiny_config(clip={"model": "ViT-B-16-quickgelu", "pretrained": "laion9b"}))


def test_prepare_weights_refuses_a_non_archive(tmp_path, capsys):
    src = tmp_path / "x.pt"
    src.write_bytes(b"not a zip")
    assert main(["prepare", "weights", str(src), str(tmp_path / "y.safetensors")]) == 2
    assert "is not a TorchScript archive" in capsys.readouterr().err
    assert not (tmp_path / "y.safetensors").exists()

"""Building the open_clip model that provides ZegCLIP's two frozen encoders.

Any open_clip model name works, with an open_clip pretrained tag (``openai`` downloads
through the Hugging Face hub cache), a local weights file (``.safetensors`` or a plain
state dict, loaded with ``weights_only=True``) or ``None`` for random init. The original
OpenAI ``ViT-B-16.pt`` is a TorchScript archive that cannot be loaded safely as a
pickle: :func:`convert_openai_archive` turns it into a safetensors file once.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
import open_clip
import torch
from torch import nn

from zegclip.errors import ZegclipError, refused_import
from zegclip.config import ClipConfig, ConfigError
from zegclip.config.schema import CLIP_CONFIG_DIR
from zegclip.io import atomic_path

# The package's own architectures (tiny CLIPs for tests and the mini-world).
open_clip.add_model_config(CLIP_CONFIG_DIR)

# Keys a TorchScript archive may hold that are not weights of open_clip's CLIP: the OpenAI
# release's scalar attributes, and causal masks (derived, and never persistent in open_clip).
_NON_WEIGHT_KEYS = ("input_resolution", "context_length", "vocab_size")


def _is_weight(key: str) -> bool:
    return key not in _NON_WEIGHT_KEYS and not key.endswith("attn_mask")


class WeightsError(RuntimeError, ZegclipError):
    """A weights file that is missing, unreadable, truncated or of the wrong kind."""


def is_torchscript_archive(path: Path) -> bool:
    """TorchScript archives are zip files with a ``code/`` folder next to the pickled data."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.split("/", 2)[1:2] == ["code"] for name in zf.namelist())


def _check_weights_file(path: Path) -> None:
    if not path.is_file():
        raise WeightsError(f"CLIP weights file {path} does not exist; expected an open_clip pretrained tag "
                           f"(see open_clip.list_pretrained()), a .safetensors/.pt state dict, or null")
    if path.suffix != ".safetensors" and is_torchscript_archive(path):
        raise WeightsError(f"{path} is a TorchScript archive (the original OpenAI release), which cannot be "
                           f"loaded with weights_only=True; convert it once with "
                           f"`zegclip prepare weights {path} OUTPUT.safetensors` and point clip.pretrained there")


def _check_grid(path: Path, model: nn.Module, name: str) -> None:
    """open_clip interpolates a weights file's positional grid to the tower's silently; a tiny
    CLIP trained for another image size then fails deep in a forward. Refuse it by name."""
    if path.suffix != ".safetensors":
        return
    from safetensors import safe_open

    key = "visual.positional_embedding"
    with safe_open(str(path), "pt") as f:
        theirs = tuple(f.get_slice(key).get_shape()) if key in f.keys() else None
    ours = tuple(model.visual.positional_embedding.shape)
    if theirs is not None and theirs != ours:
        raise WeightsError(f"CLIP weights {path} do not fit the tower {name}: {key} is {theirs} there, {ours} "
                           f"here (weights made for another image size or patch; choose the tower they were "
                           f"trained as)")


def build_clip(cfg: ClipConfig) -> nn.Module:
    """The open_clip CLIP model named by ``cfg`` (fp32, CPU), with its weights loaded."""
    known = open_clip.list_models()
    if cfg.model not in known:
        close = [m for m in known if cfg.model.lower().split("-")[0] in m.lower()][:12]
        raise ConfigError(f"model.clip.model={cfg.model!r} is not an open_clip model; expected one of "
                          f"open_clip.list_models(), for example {', '.join(close or known[:12])}")
    pretrained = cfg.pretrained
    if pretrained is not None and (os.sep in pretrained or Path(pretrained).suffix):
        path = Path(pretrained).expanduser().resolve()
        _check_weights_file(path)
        try:
            model = open_clip.create_model(cfg.model, pretrained=str(path), weights_only=True)
        except pickle.UnpicklingError as err:
            imported = refused_import(err)
            raise WeightsError(f"refused CLIP weights {path}: " + (
                f"it would import {imported}; only tensors are ever loaded (weights_only=True), expected a "
                f"state dict or a .safetensors file" if imported else
                "not a torch state dict (truncated, or another kind of file)")) from None
        # garbage breaks torch's weights-only unpickler in many ways (as for checkpoints)
        except (RuntimeError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, EOFError,
                zipfile.BadZipFile) as err:
            text = " ".join(str(err).split())[:300] if "weights_only" not in str(err) else type(err).__name__
            raise WeightsError(f"could not load CLIP weights {path} into {cfg.model}: {text}") from None
        _check_grid(path, model, cfg.model)
        return model
    if pretrained is not None:
        tags = open_clip.list_pretrained_tags_by_model(cfg.model)
        if pretrained not in tags:
            raise ConfigError(f"model.clip.pretrained={pretrained!r} is not a pretrained tag of {cfg.model}; "
                              f"expected one of {tags or '(none)'}, a weights file, or null")
    return open_clip.create_model(cfg.model, pretrained=pretrained, cache_dir=cfg.cache_dir)


def convert_openai_archive(src: Path, dst: Path) -> int:
    """Convert the OpenAI TorchScript ``.pt`` archive into a safetensors state dict.

    ``torch.jit.load`` reads the archive without unpickling arbitrary Python objects.
    Returns the number of tensors written.
    """
    from safetensors.torch import save_file

    if not src.is_file():
        raise WeightsError(f"{src} does not exist; expected the OpenAI CLIP TorchScript archive (e.g. ViT-B-16.pt)")
    if not is_torchscript_archive(src):
        raise WeightsError(f"{src} is not a TorchScript archive; if it is already a state dict, "
                           f"point clip.pretrained at it directly")
    try:
        archive = torch.jit.load(str(src), map_location="cpu")
    except RuntimeError as err:
        raise WeightsError(f"could not read TorchScript archive {src}: {err}") from err
    state = {k: v.detach().clone().contiguous() for k, v in archive.state_dict().items()
             if _is_weight(k)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        save_file(state, str(tmp))
    return len(state)


def visual_depth(clip: nn.Module) -> int:
    return len(clip.visual.transformer.resblocks)


def text_tower_parameters(clip: nn.Module) -> list[nn.Parameter]:
    """Every CLIP parameter outside the image tower (token embeddings, text transformer, ...)."""
    visual = {id(p) for p in clip.visual.parameters()}
    return [p for p in clip.parameters() if id(p) not in visual]


def default_cache_root() -> Path:
    return Path(os.environ.get("ZEGCLIP_CACHE", Path.home() / ".cache" / "zegclip")).expanduser()

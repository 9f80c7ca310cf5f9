"""Shared fixtures: a tiny open_clip architecture with random weights, so tests run on CPU."""
from __future__ import annotations

import pytest
import torch

from zegclip.config import ModelConfig, from_dict, merge

TINY_CLIP = "ZegCLIP-Test-Tiny"  # zegclip/clip_configs: 12-layer ViT of width 32, patch 16


def tiny_config(**overrides) -> ModelConfig:
    """The published defaults at tiny size; ``overrides`` is a nested dict of the model section."""
    base = {"clip": {"model": TINY_CLIP, "pretrained": None},
            "encoder": {"image_size": 64, "prompt": {"tokens": 3}},
            "inference": {"crop": 64, "stride": 48}}
    return from_dict(ModelConfig, merge(base, overrides), "model")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEGCLIP_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)

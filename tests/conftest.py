"""Shared fixtures: one tiny configuration (a tiny open_clip ViT with random weights on a small
VOC-layout dataset), so that every test runs on a CPU in seconds."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch

from zegclip.config import ModelConfig, from_dict, merge

TINY_CLIP = "ZegCLIP-Test-Tiny"  # zegclip/clip_configs: 12-layer ViT of width 32, patch 16
TINY_MODEL = {"clip": {"model": TINY_CLIP, "pretrained": None},
              "encoder": {"image_size": 64, "prompt": {"tokens": 3}},
              "inference": {"crop": 64, "stride": 48}}
TINY_TRAIN = {"iters": 30, "batch": 4, "lr": 5e-4, "warmup_iters": 3, "checkpoint_every": 10}


def _tiny_config(**overrides) -> ModelConfig:
    """The published defaults at tiny size; ``overrides`` is a nested dict of the model section."""
    return from_dict(ModelConfig, merge(TINY_MODEL, overrides), "model")


def _tiny_run(root: Path, **train) -> dict:
    """A whole run's config (as a JSON-ready dict) of the tiny model on a VOC-layout ``root``."""
    return {"model": merge(TINY_MODEL, {}),
            "data": {"dataset": "voc", "root": str(root), "workers": 0,
                     "augment": {"crop": 64, "scale": [256, 64], "test_scale": [256, 64]}},
            "train": {**TINY_TRAIN, **train}}


@pytest.fixture(scope="session")
def tiny_clip() -> str:
    """The tiny open_clip architecture's name."""
    return TINY_CLIP


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., ModelConfig]:
    """``tiny_config(**model_overrides)``: the tiny model's typed config."""
    return _tiny_config


@pytest.fixture(scope="session")
def tiny_run() -> Callable[..., dict]:
    """``tiny_run(root, **train_overrides)``: a tiny run's config dict."""
    return _tiny_run


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEGCLIP_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)

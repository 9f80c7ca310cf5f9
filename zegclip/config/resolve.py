"""The one way a run's configuration is put together, for the command line and the run sheet
alike: dataclass defaults <- a dataset's preset <- a JSON config file <- ``--set`` overrides."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

from zegclip.config.convert import from_dict, merge, parse_overrides
from zegclip.config.schema import ConfigError, ModelConfig, RunConfig

PRESET_DIR = Path(__file__).parent / "presets"


def preset_names() -> List[str]:
    """The shipped presets: the published settings of each dataset and of each mini dataset."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def load_preset(name: str) -> dict:
    """The published per-dataset settings, as a partial config dict (``zegclip/config/presets``)."""
    path = PRESET_DIR / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(preset_names())}")
    return json.loads(path.read_text())



def model_config(dataset: str, overrides: List[str]) -> ModelConfig:
    """Dataclass defaults <- the dataset's published preset <- ``--set`` overrides."""
    parsed = parse_overrides(overrides)
    data = merge(load_preset(dataset).get("model", {}), parsed.get("model", {}))
    unknown = set(parsed) - {"model"}
    if unknown:
        raise ConfigError(f"--set: unknown top-level key(s) {', '.join(sorted(unknown))}; expected model.*")
    return from_dict(ModelConfig, data, "model")


def run_config(config_file: Optional[str], preset: Optional[str], overrides: List[str]) -> RunConfig:
    """Dataclass defaults <- a dataset preset <- a JSON config file <- ``--set`` overrides."""
    data: dict = load_preset(preset) if preset else {}
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"--config {path} does not exist")
        try:
            loaded = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"--config {path} is not valid JSON: {err}") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {path}: expected a JSON object with any of model, data, train; "
                              f"got a {type(loaded).__name__}")
        data = merge(data, loaded)
    return from_dict(RunConfig, merge(data, parse_overrides(overrides)))

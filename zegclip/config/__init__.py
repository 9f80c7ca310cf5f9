"""One typed configuration tree for ZegCLIP.

Every default lives in dataclasses and nowhere else: a run's tree in ``schema``, the
mini-world's in ``world``. Plain dicts (JSON presets, run directories, ``--set key=value``)
become dataclasses at the boundary through ``from_dict`` (``convert``), which rejects
unknown keys and wrong types, so a typo is an error rather than a silently ignored setting.
``resolve`` puts a run's configuration together, the same way for every caller.
"""
from zegclip.config.convert import config_hash, from_dict, merge, parse_overrides, to_dict
from zegclip.config.resolve import PRESET_DIR, load_preset, model_config, run_config
from zegclip.config.schema import (AugmentConfig, ClipConfig, ConfigError, DataConfig, DecoderConfig,
                                   EncoderConfig, InferenceConfig, LossConfig, ModelConfig, PromptConfig,
                                   RunConfig, TextConfig, TrainConfig)

__all__ = ["AugmentConfig", "ClipConfig", "ConfigError", "DataConfig", "DecoderConfig", "EncoderConfig",
           "InferenceConfig", "LossConfig", "ModelConfig", "PromptConfig", "RunConfig", "TextConfig",
           "TrainConfig", "PRESET_DIR", "config_hash", "from_dict", "load_preset", "merge", "model_config",
           "parse_overrides", "run_config", "to_dict"]

# The workflow configuration: typed, validated, with the schema's defaults filled in and the
# mini-world's taken from the package.
import sys

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from zegclip.config.world import WORLD_DIR, WORLD_SEED, PretrainConfig, WorldSize

CONFIG_SCHEMA = f"{workflow.basedir}/workflow/schemas/config.schema.yaml"
SCALARS = {"integer": int, "number": (int, float), "boolean": bool}


def typed_from_command_line(value, schema):
    """Snakemake reads a nested --config value (`--config mini={world_seed: 1}`) with YAML's base
    loader, so every leaf arrives as a string; give each the type its schema names."""
    kind = schema.get("type")
    if isinstance(value, dict) and kind == "object":
        props = schema.get("properties", {})
        return {k: typed_from_command_line(v, props[k]) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and kind == "array":
        return [typed_from_command_line(v, schema.get("items", {})) for v in value]
    if isinstance(value, str) and kind in SCALARS:
        parsed = yaml.safe_load(value)
        return parsed if isinstance(parsed, SCALARS[kind]) else value  # else the schema names it
    return value


with open(CONFIG_SCHEMA) as f:
    config.update(typed_from_command_line(dict(config), yaml.safe_load(f)))
try:  # a bad value ends with one line naming it, not the schema
    validate(config, CONFIG_SCHEMA)
except WorkflowError as err:
    cause = err.__context__ if hasattr(err.__context__, "message") else None  # jsonschema's error
    where = "".join(f".{p}" for p in cause.absolute_path) if cause else ""
    sys.exit(f"zegclip workflow: error: config{where}: {cause.message if cause else err}")
MINI_DEFAULTS = {"world": WORLD_DIR, "world_seed": WORLD_SEED, "clip_steps": PretrainConfig.steps,
                 "train_images": WorldSize.train, "val_images": WorldSize.val}
config["mini"] = {**MINI_DEFAULTS, **config.get("mini", {})}

import pytest

from zegclip.config import (ConfigError, ModelConfig, config_hash, from_dict, load_preset, merge,
                            parse_overrides, to_dict)


def test_round_trip_and_hash_stable():
    cfg = from_dict(ModelConfig, {"encoder": {"mode": "ft", "prompt": {"layers": [4, 12]}}})
    assert cfg.encoder.prompt.layers == (4, 12)
    again = from_dict(ModelConfig, to_dict(cfg))
    assert again == cfg and config_hash(again) == config_hash(cfg)
    assert config_hash(ModelConfig()) != config_hash(cfg)


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="unknown key.*tokenz.*allowed: dropout, layers, tokens"):
        from_dict(ModelConfig, {"encoder": {"prompt": {"tokenz": 3}}}, "model")


def test_wrong_type_is_an_error():
    with pytest.raises(ConfigError, match=r"model.encoder.prompt.tokens: expected int"):
        from_dict(ModelConfig, {"encoder": {"prompt": {"tokens": "ten"}}}, "model")
    with pytest.raises(ConfigError, match="expected a list of 2 values"):
        from_dict(ModelConfig, {"encoder": {"prompt": {"layers": [1, 2, 3]}}}, "model")


@pytest.mark.parametrize("override, message", [
    ({"decoder": {"query": "t_times_g"}}, r"model.decoder.query='t_times_g' is not allowed; expected one of 't'.*'cat_tmulg_t'"),
    ({"encoder": {"prompt": {"tokens": 0}}}, r"model.encoder.prompt.tokens=0: expected at least 1"),
    ({"encoder": {"prompt": {"layers": [0, 3]}}}, r"model.encoder.prompt.layers=\[0, 3\]"),
    ({"encoder": {"prompt": {"layers": [7, 3]}}}, r"model.encoder.prompt.layers=\[7, 3\]"),
    ({"encoder": {"mode": "frozen"}}, r"model.encoder.mode='frozen' is not allowed; expected one of 'fix', 'ft', 'dpt'"),
    ({"loss": {"kind": "focal"}}, r"model.loss.kind='focal' is not allowed; expected one of 'plus', 'plain', 'ce'"),
    ({"text": {"templates": "many"}}, r"model.text.templates='many' is not allowed"),
])
def test_bad_options_fail_at_construction(override, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(ModelConfig, override, "model")


def test_overrides_parse_json_values():
    d = parse_overrides(["model.encoder.prompt.layers=[1,6]", "model.encoder.mode=ft", "model.clip.pretrained=null"])
    assert d == {"model": {"encoder": {"prompt": {"layers": [1, 6]}, "mode": "ft"}, "clip": {"pretrained": None}}}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["model.encoder.mode"])


def test_presets_hold_the_published_token_counts_and_templates():
    voc = from_dict(ModelConfig, merge({}, load_preset("voc")["model"]))
    coco = from_dict(ModelConfig, load_preset("coco")["model"])
    assert (voc.encoder.prompt.tokens, voc.text.templates) == (10, "single_no_period")
    assert (coco.encoder.prompt.tokens, coco.text.templates) == (100, "multiple")
    with pytest.raises(ConfigError, match="unknown preset 'kitti'"):
        load_preset("kitti")

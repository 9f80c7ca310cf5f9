"""Class-name embeddings: template ensembles, and the on-disk cache."""
import torch
import torch.nn.functional as F

from zegclip.model import ZegCLIP
from zegclip.model import text as text_mod
from zegclip.model.text import MULTIPLE_TEMPLATES, encode_class_names


def _counting(monkeypatch):
    calls = []
    real = text_mod.encode_class_names

    def wrapped(*a, **k):
        calls.append(a[3])
        return real(*a, **k)
    monkeypatch.setattr(text_mod, "encode_class_names", wrapped)
    return calls


def test_fifteen_templates_and_the_single_one():
    assert len(MULTIPLE_TEMPLATES) == 15 and MULTIPLE_TEMPLATES[0] == "a photo of a {}."
    assert text_mod.TEMPLATES["single"] == ("a photo of a {}.",)


def test_ensemble_is_the_renormalised_mean_of_normalised_embeddings(tiny_config):
    model = ZegCLIP(tiny_config())
    import open_clip
    tok = open_clip.get_tokenizer("ZegCLIP-Test-Tiny")
    templates = ("a photo of a {}.", "There is a {} in the scene.")
    got = encode_class_names(model.clip, tok, ["cat", "dog"], templates)
    per = F.normalize(model.clip.encode_text(tok([t.format("dog") for t in templates])), dim=-1)
    assert torch.allclose(got[1], F.normalize(per.mean(0), dim=-1), atol=1e-6)
    assert torch.allclose(got.norm(dim=-1), torch.ones(2), atol=1e-6)


def test_cache_is_reused_and_invalidated_by_templates_classes_and_weights(tiny_config, monkeypatch, tmp_path):
    calls = _counting(monkeypatch)
    model = ZegCLIP(tiny_config())
    a = model.encode_classes(["cat", "dog"])
    b = model.encode_classes(["cat", "dog"])
    assert len(calls) == 1 and torch.equal(a, b)
    assert len(list((tmp_path / "cache" / "text").glob("*.safetensors"))) == 1

    multi = ZegCLIP(tiny_config(text={"templates": "multiple"}), clip=model.clip)
    multi.encode_classes(["cat", "dog"])
    assert len(calls) == 2 and len(calls[-1]) == 15

    model.encode_classes(["cat", "dog", "cow"])
    assert len(calls) == 3
    with torch.no_grad():
        model.clip.token_embedding.weight.add_(0.1)
    model.encode_classes(["cat", "dog"])
    assert len(calls) == 4

"""Planted regressions: realistic mistakes, to measure whether the regression gate catches them.

Each is either a preset default changed (``--set`` values on top of the run's own) or a code
path broken through a patch that only this measurement applies (``zegclip gate plant``). Nothing
else in the package imports this module.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
from dataclasses import dataclass
from typing import Callable, ContextManager, Dict, Iterator, Optional, Sequence, Tuple
from unittest import mock

# torch is imported inside the patches: the workflow reads PLANTS without it


@dataclass(frozen=True)
class Plant:
    name: str
    text: str  # the mistake, as a reviewer would describe it
    sets: Tuple[str, ...] = ()  # a preset default changed
    patch: Optional[Callable[[], ContextManager[None]]] = None  # a code path broken

    @property
    def kind(self) -> str:
        return "code" if self.patch else "config"


@contextlib.contextmanager
def _encoder_left_trainable() -> Iterator[None]:
    """The constructor forgets to freeze the image encoder (every mode trains it)."""
    from zegclip.model.zegclip import ZegCLIP

    original = ZegCLIP.__init__

    def init(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        self.clip.visual.requires_grad_(True)

    with mock.patch.object(ZegCLIP, "__init__", init):
        yield


@contextlib.contextmanager
def _unseen_names_permuted() -> Iterator[None]:
    """The unseen classes' names are out of order in the class list (rotated by one): each
    unseen class is queried with another unseen class's name."""
    from zegclip.catalog.benchmarks import DATASETS

    def rotated(info):  # type: ignore[no-untyped-def]
        names = list(info.classes)
        ids = list(info.unseen)
        for i, j in zip(ids, ids[1:] + ids[:1]):
            names[i] = info.classes[j]
        return dataclasses.replace(info, classes=tuple(names))

    with mock.patch.dict(DATASETS, {name: rotated(info) for name, info in DATASETS.items() if len(info.unseen) > 1}):
        yield


@contextlib.contextmanager
def _text_not_normalised() -> Iterator[None]:
    """Class embeddings are the templates' mean text feature, never L2-normalised."""
    import open_clip
    import torch

    zegclip_module = importlib.import_module("zegclip.model.zegclip")
    from zegclip.model.text import TEMPLATES

    @torch.no_grad()
    def raw(clip, model_name: str, classes: Sequence[str], templates: str, fp16: bool,  # type: ignore[no-untyped-def]
            cache_dir: Optional[str] = None) -> "torch.Tensor":
        template_list = TEMPLATES[templates]
        tokens = open_clip.get_tokenizer(model_name)([t.format(c) for c in classes for t in template_list])
        device = next(clip.parameters()).device
        emb = clip.encode_text(tokens.to(device)).float().view(len(classes), len(template_list), -1).mean(dim=1)
        return (emb.half() if fp16 else emb).float().cpu()

    with mock.patch.object(zegclip_module, "class_embeddings", raw):
        yield


@contextlib.contextmanager
def _nearest_upsampling() -> Iterator[None]:
    """Mask logits are upsampled to the image by nearest neighbour instead of bilinearly."""
    import torch.nn.functional as F

    decoder = importlib.import_module("zegclip.model.decoder")

    def nearest(masks, size: Tuple[int, int]):  # type: ignore[no-untyped-def]
        return F.interpolate(masks, size=tuple(size), mode="nearest")

    with mock.patch.object(decoder, "upsample", nearest):
        yield


PLANTS: Dict[str, Plant] = {p.name: p for p in (
    Plant("rd_dropped", "the relationship descriptor dropped (query t)", sets=("model.decoder.query=t",)),
    Plant("nel_to_ce", "NEL replaced by softmax cross-entropy", sets=("model.loss.kind=ce",)),
    Plant("dice_off", "the dice term off (weight 0)", sets=("model.loss.dice_weight=0",)),
    Plant("encoder_trainable", "the CLIP image encoder left trainable", patch=_encoder_left_trainable),
    Plant("prompts_first_layer", "deep prompts in the first layer only", sets=("model.encoder.prompt.layers=[1,1]",)),
    Plant("one_template", "one template instead of the set of 15", sets=("model.text.templates=single",)),
    Plant("calibration_off", "seen-class calibration off (seen bias 0)", sets=("model.inference.seen_bias=0",)),
    Plant("unseen_names_permuted", "the unseen class names permuted", patch=_unseen_names_permuted),
    Plant("text_not_normalised", "text embeddings not L2-normalised", patch=_text_not_normalised),
    Plant("nearest_upsampling", "mask upsampling nearest instead of bilinear", patch=_nearest_upsampling),
)}


def planted(name: str) -> ContextManager[None]:
    """The patch of a code-level plant, or nothing (a config-level plant is its ``sets``)."""
    plant = PLANTS[name]
    return plant.patch() if plant.patch else contextlib.nullcontext()

"""A run's typed configuration tree: every default and every allowed value of a run, here only."""
from __future__ import annotations

import typing
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from zegclip.catalog.benchmarks import DATASETS, is_custom
from zegclip.errors import ZegclipError

ENCODER_MODES = ("fix", "ft", "dpt")
LOSS_KINDS = ("plus", "plain", "ce")
TEMPLATE_SETS = ("single", "single_no_period", "multiple")  # sets in zegclip.model.text.TEMPLATES
POS_RESIZES = ("two_step", "direct")
SLIDE_FUSIONS = ("scores", "logits")


class ConfigError(ValueError, ZegclipError):
    """A configuration value that is unknown, of the wrong type or out of range."""


def _one_of(path: str, value: Any, allowed: typing.Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{path}={value!r} is not allowed; expected one of {', '.join(map(repr, allowed))}")


def _positive(path: str, value: float, strict: bool = True) -> None:
    if not (value > 0 if strict else value >= 0):  # NaN fails too
        raise ConfigError(f"{path}={value!r}: expected a {'positive' if strict else 'non-negative'} number")


def _rate(path: str, value: float, high_open: bool = True) -> None:
    """A probability or fraction: in [0, 1), or [0, 1] when ``high_open`` is false."""
    if not (0.0 <= value < 1.0 if high_open else 0.0 <= value <= 1.0):
        raise ConfigError(f"{path}={value!r}: expected a value in [0, {'1)' if high_open else '1]'}")


# The package's own open_clip model configs (the tiny towers), registered by zegclip.model.clip.
CLIP_CONFIG_DIR = Path(__file__).resolve().parent.parent / "clip_configs"


@dataclass
class ClipConfig:
    """Which open_clip model provides both encoders, and where its weights come from."""

    model: str = "ViT-B-16-quickgelu"  # any name in open_clip.list_models()
    pretrained: Optional[str] = "openai"  # an open_clip tag, a weights file, or None (random init)
    cache_dir: Optional[str] = None  # open_clip / Hugging Face download cache


@dataclass
class PromptConfig:
    """Deep prompt tuning (VPT-deep), used in encoder mode ``dpt``."""

    tokens: int = 10  # published: 10 on VOC, 100 on COCO-Stuff and Context
    layers: Tuple[int, int] = (1, 12)  # 1-indexed, inclusive range of prompted layers
    dropout: float = 0.1  # after the shared prompt projection

    def __post_init__(self) -> None:
        if self.tokens < 1:
            raise ConfigError(f"model.encoder.prompt.tokens={self.tokens}: expected at least 1 prompt token")
        _rate("model.encoder.prompt.dropout", self.dropout)
        first, last = self.layers
        if not 1 <= first <= last:
            raise ConfigError(f"model.encoder.prompt.layers={list(self.layers)}: expected [first, last] "
                              "with 1 <= first <= last (1-indexed, inclusive)")


@dataclass
class EncoderConfig:
    """The CLIP image encoder and the published encoder's quirks (each a named option)."""

    mode: str = "dpt"  # fix: frozen; ft: fine-tuned; dpt: frozen + deep prompts
    image_size: int = 512  # training crop; positional grid is resized bilinearly to image_size/patch
    prompt: PromptConfig = field(default_factory=PromptConfig)
    double_class_embedding: bool = True  # class token enters as 2*class_embedding + pos[0]
    # Stochastic depth, linear from 0 to this over the blocks. Published: 0 in effect (the
    # published blocks build a DropPath with rate 0.1 but never call it); above 0 is ours.
    drop_path: float = 0.0
    prompt_norm: bool = True  # extra trainable LayerNorm (eps 1e-6) before ln_post, dpt mode only
    # two_step (published): the pretrained grid is resized once at load to image_size/patch (the
    # resized embedding is the parameter), then in each forward to the input's grid; direct: from
    # the pretrained grid to the input's grid in each forward. Both bilinear; equal when the input
    # is image_size.
    pos_resize: str = "two_step"

    def __post_init__(self) -> None:
        _one_of("model.encoder.mode", self.mode, ENCODER_MODES)
        _one_of("model.encoder.pos_resize", self.pos_resize, POS_RESIZES)
        _positive("model.encoder.image_size", self.image_size)
        _rate("model.encoder.drop_path", self.drop_path)


@dataclass
class TextConfig:
    """Class-name embeddings from the frozen CLIP text encoder."""

    # single: "a photo of a {}."; single_no_period: "a photo of a {}" (the published VOC
    # embeddings); multiple: the 15-template ensemble
    templates: str = "single_no_period"
    fp16: bool = True  # round the embeddings to float16, as the published embedding files store them
    cache_dir: Optional[str] = None  # default: $ZEGCLIP_CACHE/text or ~/.cache/zegclip/text

    def __post_init__(self) -> None:
        _one_of("model.text.templates", self.templates, TEMPLATE_SETS)


@dataclass
class DecoderConfig:
    """The text-query decoder. Its width is CLIP's embedding width (no input projection)."""

    layers: int = 3
    heads: int = 8
    ffn_ratio: int = 4  # FFN width = ffn_ratio * width (published 2048 for width 512)
    dropout: float = 0.1  # attention, residual and FFN dropout
    query: str = "cat_tmulg_t"  # relationship descriptor, see zegclip.catalog.queries.QUERY_FORMATS
    deep_supervision: bool = False  # published: only the last layer's masks are supervised
    # Every class's score starts near this probability: log(p / (1 - p)) is added to every mask
    # logit (focal loss's prior initialisation). None (published): the attention logits alone,
    # so every score starts at 0.5. A no-op for the softmax loss, which ignores a shared offset.
    mask_prior: Optional[float] = None
    # The L2-normalised patch tokens enter the decoder times this (1: published). sqrt(width)
    # gives them unit-variance entries, so the key and value maps need sqrt(width) times smaller
    # weights, which Adam's bounded steps reach that many times sooner
    patch_scale: float = 1.0

    def __post_init__(self) -> None:
        # imported here: the formats' code needs torch, which reading a config (the workflow) does not
        from zegclip.catalog.queries import QUERY_FORMATS

        _one_of("model.decoder.query", self.query, QUERY_FORMATS)
        _positive("model.decoder.layers", self.layers)
        _positive("model.decoder.heads", self.heads)
        _positive("model.decoder.ffn_ratio", self.ffn_ratio)
        _rate("model.decoder.dropout", self.dropout)
        _positive("model.decoder.patch_scale", self.patch_scale)
        if self.mask_prior is not None and not 0.0 < self.mask_prior < 1.0:
            raise ConfigError(f"model.decoder.mask_prior={self.mask_prior!r}: expected a probability in (0, 1), "
                              "or null for none (published)")


@dataclass
class LossConfig:
    """plus: sigmoid focal + dice (NEL); plain: binary cross-entropy (NEL); ce: softmax CE."""

    kind: str = "plus"
    focal_weight: float = 100.0  # the authors' answer in issue #7: 100 for the reported numbers
    dice_weight: float = 1.0
    bce_weight: float = 1.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0

    def __post_init__(self) -> None:
        _one_of("model.loss.kind", self.kind, LOSS_KINDS)
        for name in ("focal_weight", "dice_weight", "bce_weight", "focal_gamma"):
            _positive(f"model.loss.{name}", getattr(self, name), strict=False)
        _rate("model.loss.focal_alpha", self.focal_alpha, high_open=False)

    @property
    def sigmoid(self) -> bool:
        """Non-mutually-exclusive (sigmoid) scores, as opposed to a softmax over classes."""
        return self.kind != "ce"


@dataclass
class InferenceConfig:
    seen_bias: float = 0.1  # subtracted from seen-class scores in inductive evaluation
    crop: int = 512  # slide-inference window
    stride: int = 426
    # scores (published): each window's calibrated scores are averaged where windows overlap, then
    # resized to the label size; logits: logits are averaged and resized, scores computed last.
    fusion: str = "scores"
    batch: int = 1  # evaluation images per forward pass (consecutive images of one size)

    def __post_init__(self) -> None:
        _one_of("model.inference.fusion", self.fusion, SLIDE_FUSIONS)
        _positive("model.inference.seen_bias", self.seen_bias, strict=False)
        _positive("model.inference.crop", self.crop)
        _positive("model.inference.stride", self.stride)
        _positive("model.inference.batch", self.batch)
        if self.stride > self.crop:  # windows would leave gaps, pixels with no score at all
            raise ConfigError(f"model.inference.stride={self.stride}: expected at most model.inference.crop="
                              f"{self.crop}, so that the slide windows cover every pixel")


@dataclass
class AugmentConfig:
    """Train-time augmentation and test-time resize (the published recipe's pipeline)."""

    crop: int = 512
    scale: Tuple[int, int] = (2048, 512)  # keep-ratio rescale target, times a random ratio
    ratio_range: Tuple[float, float] = (0.5, 2.0)
    cat_max_ratio: float = 0.75  # re-draw a crop (up to 10 times) while one class covers this much
    flip_prob: float = 0.5
    photometric: bool = True
    mean: Tuple[float, float, float] = (123.675, 116.28, 103.53)  # ImageNet, on 0..255 RGB
    std: Tuple[float, float, float] = (58.395, 57.12, 57.375)
    test_scale: Tuple[int, int] = (2048, 512)  # short side 512 at test time

    def __post_init__(self) -> None:
        _positive("data.augment.crop", self.crop)
        for name in ("scale", "test_scale", "std"):
            for i, v in enumerate(getattr(self, name)):
                _positive(f"data.augment.{name}[{i}]", v)
        _rate("data.augment.flip_prob", self.flip_prob, high_open=False)
        if not 0.0 < self.cat_max_ratio <= 1.0:
            raise ConfigError(f"data.augment.cat_max_ratio={self.cat_max_ratio}: expected a value in (0, 1]")
        lo, hi = self.ratio_range
        if not 0 < lo <= hi:
            raise ConfigError(f"data.augment.ratio_range={list(self.ratio_range)}: expected 0 < low <= high")


@dataclass
class DataConfig:
    dataset: str = "voc"  # voc, coco, context, context59, a mini dataset, or custom:DESCRIPTION.yaml
    root: Optional[str] = None  # the dataset's folder (see the README); required
    train_split: str = "train"
    eval_split: str = "val"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    workers: int = 2  # data-loading processes (0: in the main process)
    cache: bool = False  # keep decoded training samples in memory (small datasets: the mini-world)

    def __post_init__(self) -> None:
        if is_custom(self.dataset):  # a user's dataset, described in a file (zegclip.data.custom)
            if not self.dataset.endswith((".yaml", ".yml", ".json")):
                raise ConfigError(f"data.dataset={self.dataset!r}: expected custom:PATH to a .yaml or .json "
                                  f"dataset description")
        else:
            _one_of("data.dataset", self.dataset, DATASETS)
        _positive("data.workers", self.workers, strict=False)


SETTINGS = ("inductive", "st", "st_dagger", "fully_supervised")


@dataclass
class TrainConfig:
    """The published optimisation recipe (AdamW, poly schedule, warm-up); every number lives here."""

    setting: str = "inductive"  # inductive, st, st_dagger (self-training), fully_supervised
    iters: int = 20000  # VOC 20K; COCO-Stuff 80K; Context 40K; self-training half of those
    batch: int = 16  # global batch, split over processes under torchrun
    lr: float = 2e-5
    weight_decay: float = 0.01
    encoder_lr_mult: float = 10.0  # prompts (dpt) or the whole image encoder (ft)
    decoder_lr_mult: float = 10.0  # query projection and decoder
    # Weight decay on the learnable LayerNorms. Published: true in effect (the config asks for none,
    # but mmcv 1.4.4 applies only the longest matching paramwise key, and `backbone`/`head` win).
    norm_decay: bool = True
    warmup_iters: int = 1500
    warmup_ratio: float = 1e-6
    poly_power: float = 0.9
    min_lr: float = 1e-6
    init_from: Optional[str] = None  # a checkpoint whose weights start this run (self-training)
    checkpoint_every: int = 2000
    # Evaluate on the eval split every this many iterations and keep the learning curve
    # (RUN/curve.jsonl, results.json "curve"); 0: only at the end, as the published recipe.
    eval_every: int = 0
    seed: int = 0
    precision: str = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU; or fp32, bf16

    def __post_init__(self) -> None:
        _one_of("train.setting", self.setting, SETTINGS)
        _one_of("train.precision", self.precision, ("auto", "fp32", "bf16"))
        for name in ("iters", "batch", "checkpoint_every", "lr", "poly_power"):
            _positive(f"train.{name}", getattr(self, name))
        for name in ("warmup_iters", "weight_decay", "encoder_lr_mult", "decoder_lr_mult", "min_lr", "seed",
                     "eval_every"):
            _positive(f"train.{name}", getattr(self, name), strict=False)
        _rate("train.warmup_ratio", self.warmup_ratio, high_open=False)


@dataclass
class ModelConfig:
    clip: ClipConfig = field(default_factory=ClipConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    text: TextConfig = field(default_factory=TextConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)


@dataclass
class RunConfig:
    """Everything a training run needs; its run directory holds this, resolved, as config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

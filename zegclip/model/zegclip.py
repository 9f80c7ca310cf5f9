"""ZegCLIP: a frozen CLIP, deep prompt tuning, a relationship descriptor and a text-query decoder.

    images (B, 3, H, W) --CLIP ViT (+ prompts)--> g (B, E), patches (B, hw, E)
    class embeddings t (C, E) + g --query format + Linear--> queries (B, C, E)
    queries x patches --3-layer decoder--> mask logits (B, C, h, w) --bilinear--> (B, C, H, W)
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from torch import Tensor, nn

from zegclip.config import ModelConfig
from zegclip.model.clip import build_clip
from zegclip.model.decoder import MaskUpsample, TextQueryDecoder, _init_weights, unused_published_params
from zegclip.model.encoder import DeepPrompts, check_visual, encode_image, resize_pretrained_grid
from zegclip.model.losses import segmentation_loss
from zegclip.catalog.queries import make_queries, query_parts
from zegclip.model.text import class_embeddings


class ZegCLIP(nn.Module):
    def __init__(self, cfg: ModelConfig, clip: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.clip = clip if clip is not None else build_clip(cfg.clip)  # names match open_clip checkpoints
        visual = self.clip.visual
        check_visual(visual, cfg.encoder)
        resize_pretrained_grid(visual, cfg.encoder)  # after the pretrained weights are loaded
        E = visual.output_dim
        self.prompts = (DeepPrompts(visual.conv1.out_channels, visual.patch_size[0], cfg.encoder.prompt,
                                    cfg.encoder.prompt_norm)
                        if cfg.encoder.mode == "dpt" else None)
        self.query_proj = nn.Linear(query_parts(cfg.decoder.query) * E, E)
        _init_weights(self.query_proj)
        d = cfg.decoder
        self.decoder = TextQueryDecoder(E, d.layers, d.heads, d.ffn_ratio * E, d.dropout, d.mask_prior,
                                        d.patch_scale)
        self.upsample = MaskUpsample()  # no parameters

        # The text encoder never trains; the image encoder trains only in ``ft`` mode.
        self.clip.requires_grad_(False)
        if cfg.encoder.mode == "ft":
            visual.requires_grad_(True)

    def forward(self, images: Tensor, text: Tensor) -> Dict[str, object]:
        """images (B, 3, H, W), text (C, E) L2-normalised class embeddings -> mask logits."""
        g, patches, grid = encode_image(self.clip.visual, images, self.cfg.encoder, self.prompts)
        queries = self.query_proj(make_queries(self.cfg.decoder.query, text.to(g.dtype), g))  # (B, C, E)
        layer_masks = self.decoder(queries, patches, grid)  # layers x (B, C, h, w)
        return {"masks": self.upsample(layer_masks[-1], images.shape[-2:]),  # (B, C, H, W)
                "layer_masks": layer_masks, "g": g}

    def loss(self, out: Dict[str, object], labels: Tensor) -> Dict[str, Tensor]:
        """Named loss terms for labels (B, H, W); with deep supervision, every layer's too."""
        terms = segmentation_loss(out["masks"], labels, self.cfg.loss)
        if self.cfg.decoder.deep_supervision:
            for i, masks in enumerate(out["layer_masks"][:-1]):
                aux = segmentation_loss(self.upsample(masks, labels.shape[-2:]), labels, self.cfg.loss)
                terms.update({f"layer{i + 1}.{k}": v for k, v in aux.items()})
        return terms

    def encode_classes(self, classes: Sequence[str]) -> Tensor:
        """(C, E) class-name embeddings with the configured templates (cached on disk)."""
        c = self.cfg
        return class_embeddings(self.clip, c.clip.model, classes, c.text.templates, c.text.fp16, c.text.cache_dir)

    def trainable_parameters(self) -> List[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def published_param_count(self) -> int:
        """#Params as the published code counts it: also the decoder's never-called modules."""
        n = sum(p.numel() for p in self.trainable_parameters())
        return n + unused_published_params(self.clip.visual.output_dim, self.cfg.decoder.layers)

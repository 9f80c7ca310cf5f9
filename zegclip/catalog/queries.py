"""Relationship descriptor: how a class text embedding t and the image embedding g form a query.

Every format of the paper's Table 4, by the key ``reported.yaml`` uses. ZegCLIP is
``cat_tmulg_t`` = [t ⊙ g, t]; "no RD" (Table 5) is ``t``. The query is then projected
linearly from ``parts * E`` to ``E``.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import torch
from torch import Tensor

Parts = Callable[[Tensor, Tensor], List[Tensor]]

# key -> (label as printed in the paper, the parts concatenated)
QUERY_FORMATS: Dict[str, Tuple[str, Parts]] = {
    "t": ("t", lambda t, g: [t]),
    "t_mul_g": ("t ⊙ g", lambda t, g: [t * g]),
    "abs_t_sub_g": ("|t − g|", lambda t, g: [(t - g).abs()]),
    "t_sub_g": ("t − g", lambda t, g: [t - g]),
    "t_add_g": ("t + g", lambda t, g: [t + g]),
    "cat_t_g": ("[t, g]", lambda t, g: [t, g]),
    "cat_tmulg_t": ("[t ⊙ g, t]", lambda t, g: [t * g, t]),
    "cat_tsubg_t": ("[t − g, t]", lambda t, g: [t - g, t]),
    "cat_tmulg_taddg": ("[t ⊙ g, t + g]", lambda t, g: [t * g, t + g]),
    "cat_taddg_t": ("[t + g, t]", lambda t, g: [t + g, t]),
    "cat_tmulg_tsubg_t": ("[t ⊙ g, t − g, t]", lambda t, g: [t * g, t - g, t]),
    "cat_tmulg_abstsubg_t": ("[t ⊙ g, |t − g|, t]", lambda t, g: [t * g, (t - g).abs(), t]),
}


def query_parts(name: str) -> int:
    """How many E-wide parts the format concatenates (its width is parts * E)."""
    e = torch.zeros(1, 1)
    return len(QUERY_FORMATS[name][1](e, e))


def make_queries(name: str, text: Tensor, g: Tensor) -> Tensor:
    """text (C, E), g (B, E) -> queries (B, C, parts*E)."""
    t = text.unsqueeze(0).expand(g.shape[0], -1, -1)  # (B, C, E)
    g = g.unsqueeze(1).expand(-1, text.shape[0], -1)  # (B, C, E)
    return torch.cat(QUERY_FORMATS[name][1](t, g), dim=-1)

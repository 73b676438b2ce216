"""Parameter names of the original CrossFusion code -> ours, for converting its checkpoints.

The mapping is a short list of renames applied in order, rather than a table of every key, so it
covers any ``num_layers`` and any backbone size (where the input projections may be absent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from crossfusion_core.errors import PipelineInputError

_SCALE_PREFIX = (("c_", "coarse_"), ("s_", "source_"), ("f_", "fine_"))

_RENAMES = (
    (r"^cls_token$", "final.class_token"),
    (r"^(coarse|source|fine)_lin_proj\.", r"project.\1."),
    (r"^(coarse|fine)_cross_attn\.scale_embeddings$", r"cross.\1.scale_embedding"),
    (r"^(coarse|fine)_cross_attn_ln\.", r"cross.\1.norm."),
    (r"^(coarse|fine)_cross_attn_ffn\.net\.", r"cross.\1.ffn."),
    (r"^(coarse|fine)_cross_attn\.", r"cross.\1.attn."),
    (r"^(coarse|source|fine)_transformer_ln\.", r"branches.\1.norm."),
    (r"^(coarse|source|fine)_transformer\.", r"branches.\1."),
    (r"^final_ln\.", "final.norm."),
    (r"^final_transformer\.", "final."),
    (r"\.(pre|post)_layers\.layers\.(\d+)\.0\.", r".\1.\2.attn_norm."),
    (r"\.(pre|post)_layers\.layers\.(\d+)\.1\.", r".\1.\2.attn."),
    (r"\.(pre|post)_layers\.layers\.(\d+)\.2\.", r".\1.\2.ffn_norm."),
    (r"\.(pre|post)_layers\.layers\.(\d+)\.3\.net\.", r".\1.\2.ffn."),
    (r"\.q_proj\.", ".query."),
    (r"\.k_proj\.", ".key."),
    (r"\.v_proj\.", ".value."),
    (r"\.out_proj\.", ".out."),
    (r"\.ppeg\.proj\.", ".ppeg.conv7."),
    (r"\.ppeg\.proj1\.", ".ppeg.conv5."),
    (r"\.ppeg\.proj2\.", ".ppeg.conv3."),
    (r"^conv_processor\.conv3d\.", "fusion.mix_scales."),
    (r"^conv_processor\.conv_block\.0\.proj\.", "fusion.conv7."),
    (r"^conv_processor\.conv_block\.0\.proj1\.", "fusion.conv5."),
    (r"^conv_processor\.conv_block\.0\.proj2\.", "fusion.conv3."),
    (r"^conv_processor\.conv_block\.0\.x_proj\.", "fusion.shortcut."),
    (r"^conv_processor\.linear\.", "fusion.project."),
    (r"^mlp_head\.0\.", "head."),
)


def our_key(original_key: str) -> str:
    """Our parameter name for one of the original's (``module.`` prefixes of DataParallel dropped)."""
    key = original_key.removeprefix("module.")
    for short, long in _SCALE_PREFIX:
        if key.startswith(short):
            key = long + key[len(short) :]
    for pattern, replacement in _RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def load_original_state_dict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | None = None
) -> None:
    """Load original-named weights into ``model``; every key must match, with its shape.

    A partial load would silently leave random weights in a model that then predicts nonsense, so any
    missing, unexpected or mis-shaped key is an error listing them all.
    """
    renamed = {our_key(key): value for key, value in state_dict.items()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(renamed))
    unexpected = sorted(set(renamed) - set(expected))
    misshaped = sorted(
        f"{key}: {tuple(renamed[key].shape)} vs {tuple(expected[key].shape)}"
        for key in set(renamed) & set(expected)
        if renamed[key].shape != expected[key].shape
    )
    if missing or unexpected or misshaped:
        raise PipelineInputError(
            source,
            "the checkpoint does not fit a CrossFusion of this size: "
            f"missing {missing}, unexpected {unexpected}, wrong shapes {misshaped}",
            "pass the embed_dim, num_heads, num_layers, backbone_dim and n_classes it was trained with",
        )
    model.load_state_dict(renamed)

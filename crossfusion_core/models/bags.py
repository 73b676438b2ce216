"""Bags of patch features as the models receive them."""

from __future__ import annotations

import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import SCALE_GROUPS, SCALE_NAMES, scale_named


def as_bag(features: torch.Tensor, name: str = "bag") -> torch.Tensor:
    """A (1, N, D) float tensor from (N, D) or (1, N, D): the models handle one patient at a time.

    Bags of different patients have different N, so the workflow never batches them; accepting both
    shapes saves every caller an ``unsqueeze``.
    """
    if features.dim() == 2:
        features = features.unsqueeze(0)
    if features.dim() != 3 or features.shape[0] != 1:
        raise PipelineInputError(
            None, f"{name} has shape {tuple(features.shape)}, expected (N, D) or (1, N, D)", "pass one bag"
        )
    if features.shape[1] == 0:
        raise PipelineInputError(None, f"{name} is empty (0 patches)", "drop slides without tissue patches")
    return features.float()


def pick_scale(scale: str, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> torch.Tensor:
    """The one bag a single-scale model uses, as (1, N, D); the bags come in the scale table's order."""
    return as_bag((x5, x10, x20)[SCALE_NAMES.index(scale)], scale_named(scale).group)


def scores_at_scale(scale: str, scores: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """``patch_scores`` of a single-scale model: its scale's group filled, the others ``None``."""
    result: dict[str, torch.Tensor | None] = dict.fromkeys(SCALE_GROUPS)
    result[scale_named(scale).group] = scores
    return result

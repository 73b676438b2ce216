"""Bags of patch features as the models receive them."""

from __future__ import annotations

import torch

from crossfusion_core.errors import PipelineInputError

SCALE_ARGUMENT = {"coarse": 0, "source": 1, "fine": 2}
"""Position of each scale's bag in ``model(x5, x10, x20)``."""

SCORE_KEYS = ("x5", "x10", "x20")
"""Keys of ``patch_scores``, in the same order as the bags."""


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
    """The one bag a single-scale model uses, as (1, N, D)."""
    bag = (x5, x10, x20)[SCALE_ARGUMENT[scale]]
    return as_bag(bag, SCORE_KEYS[SCALE_ARGUMENT[scale]])


def scores_at_scale(scale: str, scores: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """``patch_scores`` of a single-scale model: its scale filled, the other two ``None``."""
    result: dict[str, torch.Tensor | None] = dict.fromkeys(SCORE_KEYS)
    result[SCORE_KEYS[SCALE_ARGUMENT[scale]]] = scores
    return result

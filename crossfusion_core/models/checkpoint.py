"""The trained-model file ``{model}/{backbone}/fold_{k}/model.pt``: everything needed to rebuild it.

Storing the model name and its checked options next to the weights means evaluation and heatmaps
rebuild exactly the trained architecture without reading the training config again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path
from crossfusion_core.models.registry import build_model, model_options

CHECKPOINT_KEYS = ("model_name", "model_options", "backbone_dim", "n_bins", "bin_edges", "state_dict")


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    model_name: str,
    options: dict[str, Any],
    backbone_dim: int,
    n_bins: int,
    bin_edges: Sequence[float] | None,
) -> None:
    """Write the checkpoint atomically; ``options`` are stored with every default filled in."""
    payload = {
        "model_name": model_name,
        "model_options": dataclasses.asdict(model_options(model_name, options)),
        "backbone_dim": int(backbone_dim),
        "n_bins": int(n_bins),
        "bin_edges": None if bin_edges is None else [float(edge) for edge in bin_edges],
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model (in eval mode) and the checkpoint's other fields."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    absent = [key for key in CHECKPOINT_KEYS if key not in payload]
    if absent:
        raise PipelineInputError(
            path,
            f"not a crossfusion-workflow checkpoint (no {absent})",
            "convert checkpoints of the original code with crossfusion-convert-checkpoint",
        )
    model = build_model(
        payload["model_name"], payload["backbone_dim"], payload["n_bins"], payload["model_options"]
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval(), {key: payload[key] for key in CHECKPOINT_KEYS if key != "state_dict"}

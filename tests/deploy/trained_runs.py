"""A trained run's model folder as another machine would receive it: ``{model}/{backbone}/fold_{k}/``
with a real ``model.pt`` and the two tables of the patients' risks."""

from __future__ import annotations

from pathlib import Path

import torch

from crossfusion_core.models.checkpoint import save_checkpoint
from crossfusion_core.models.registry import build_model


def write_trained_run(
    root: Path,
    backbone: str,
    *,
    recorded_backbone: str | None,
    dim: int,
    folds: int = 2,
    model: str = "abmil",
) -> Path:
    """Fold models of ``model`` in ``root/{model}/{backbone}/``, each recording ``recorded_backbone``
    (None: a checkpoint from before checkpoints recorded it) and ``dim``-wide features; returns ``root``."""
    torch.manual_seed(0)
    network = build_model(model, dim, 2, {}).eval()
    for fold in range(folds):
        folder = root / model / backbone / f"fold_{fold}"
        folder.mkdir(parents=True)
        save_checkpoint(folder / "model.pt", network, model, {}, dim, 2, None, backbone=recorded_backbone)
        for name in ("training_risks.csv", "predictions.csv"):
            (folder / name).write_text(f"case_id,risk,fold\nP1,-1.0,{fold}\n")
    return root

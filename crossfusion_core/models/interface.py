"""What every survival model gives, so that training, evaluation and heatmaps treat all models alike: each
model of the registry, and each wrapper around one (standardisation, ensembles), is a :class:`SurvivalModel`;
a :class:`ClosedFormModel` is fitted by its ``fit`` in one pass on a fold's training items, not by epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from crossfusion_core.models.outputs import SurvivalOutput


@runtime_checkable
class SurvivalModel(Protocol):
    def __call__(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        """The prediction from one bag (N, D) or (1, N, D) of patch features per scale."""
        ...

    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        """``{"x5": (N5,), "x10": (N10,), "x20": (N20,)}`` for heatmaps: the model's own score of each patch
        (attention, or its share of the risk), ``chunk_size`` patches at a time so that a whole slide fits
        in memory; None for a scale the model does not read."""
        ...


@runtime_checkable
class ClosedFormModel(SurvivalModel, Protocol):
    def fit(self, items: Sequence[tuple], bin_edges: np.ndarray, alpha: float) -> None:
        """Set every weight from the training items ``(x5, x10, x20, label_bin, survival_months,
        censorship, ...)``, the fold's time-bin edges and the NLL's weight ``alpha`` on deaths."""
        ...

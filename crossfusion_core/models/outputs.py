"""What every survival model returns, so training, evaluation and heatmaps need not know the model."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SurvivalOutput:
    """Discrete-time survival prediction for one bag (or a batch of bags).

    ``hazards`` is the conditional probability of the event in each time bin given survival so far;
    ``survival`` the probability of surviving past each bin; ``risk`` the negative expected number of
    bins survived, so that a larger risk means an earlier expected death.
    """

    logits: torch.Tensor
    hazards: torch.Tensor
    survival: torch.Tensor
    risk: torch.Tensor

    @classmethod
    def from_logits(cls, logits: torch.Tensor) -> SurvivalOutput:
        """Hazards by sigmoid, survival by cumulative product, risk as minus the summed survival."""
        hazards = torch.sigmoid(logits)
        survival = torch.cumprod(1.0 - hazards, dim=-1)
        return cls(logits=logits, hazards=hazards, survival=survival, risk=-survival.sum(dim=-1))

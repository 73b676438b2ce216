"""What every survival model returns, so training, evaluation and heatmaps need not know the model,
and the layers that make it: time-bin logits are computed in float32 even under autocast.

bfloat16 keeps 8 significant bits: logits rounded to it make the risks of different patients tie
(measured: 9 distinct risks among 16 held-out patients after a bf16 fold), which pulls the C-index
toward 0.5. So the last layer runs in float32, on float32 inputs, with autocast switched off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


def in_float32(layer: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """``layer(inputs)`` with autocast off and inputs of at least float32 precision."""
    with torch.autocast(inputs.device.type, enabled=False):
        return layer(inputs.to(torch.promote_types(inputs.dtype, torch.float32)))


class SurvivalHead(nn.Linear):
    """The linear map to time-bin logits, always in float32 (a ``nn.Linear`` in checkpoints)."""

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return in_float32(super().forward, summary)


@dataclass(frozen=True)
class SurvivalOutput:
    """Discrete-time survival prediction for one bag (or a batch of bags).

    ``hazards`` is the conditional probability of the event in each time bin given survival so far;
    ``survival`` the probability of surviving past each bin; ``risk`` the negative expected number of
    bins survived, so that a larger risk means an earlier expected death. All four are float32 (or
    wider) even when the model ran under bfloat16 autocast.
    """

    logits: torch.Tensor
    hazards: torch.Tensor
    survival: torch.Tensor
    risk: torch.Tensor

    @classmethod
    def from_logits(cls, logits: torch.Tensor) -> SurvivalOutput:
        """Hazards by sigmoid, survival by cumulative product, risk as minus the summed survival."""
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        hazards = torch.sigmoid(logits)
        survival = torch.cumprod(1.0 - hazards, dim=-1)
        return cls(logits=logits, hazards=hazards, survival=survival, risk=-survival.sum(dim=-1))

"""Several copies of one model, trained from different seeds, that predict together (``training.ensemble``).

Why: on a few dozen patients a MIL model's held-out ranking depends as much on its seed (initial
weights, order of patients, dropout) as on the data. On the unit-test cohort, five CrossFusion seeds
ranked the held-out patients with Spearman 0.47 to 0.72 against the planted risk, their mean 0.77; five
ABMIL seeds -0.04 to 0.87, their mean 0.78 (benchmarks/README.md, "Learning"). Averaging the members'
hazards keeps what they agree on and cancels what each fitted to noise.

The members share the fold's feature standardisation (:class:`Standardized` wraps the ensemble), so
``model.pt`` stores their weights side by side (``members.{i}.``) and one set of statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from crossfusion_core.models.outputs import SurvivalOutput

HAZARD_CLAMP = 1e-7
"""Mean hazards are clipped this far from 0 and 1 before their logits are taken (float32-safe)."""


class SeedEnsemble(nn.Module):
    """``model(x5, x10, x20)``: the survival output of the members' mean hazards per time bin."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        hazards = torch.stack([member(x5, x10, x20).hazards for member in self.members]).mean(dim=0)
        return SurvivalOutput.from_logits(torch.logit(hazards.clamp(HAZARD_CLAMP, 1.0 - HAZARD_CLAMP)))

    @torch.no_grad()
    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        """Each scale's patch scores averaged over the members (None where the members score nothing)."""
        per_member = [member.patch_scores(x5, x10, x20, chunk_size=chunk_size) for member in self.members]
        return {
            group: None if scores is None else torch.stack([m[group] for m in per_member]).mean(dim=0)
            for group, scores in per_member[0].items()
        }

"""Gated attention MIL (Ilse et al., 2018) on one scale: the standard single-scale baseline."""

from __future__ import annotations

import torch
from torch import nn

from crossfusion_core.models.bags import pick_scale, scores_at_scale
from crossfusion_core.models.outputs import SurvivalHead, SurvivalOutput


class GatedAttentionPool(nn.Module):
    """Attention logits ``w^T (tanh(V h) * sigmoid(U h))`` per patch; the gate lets a patch be ignored."""

    def __init__(self, dim: int, attention_dim: int, dropout: float) -> None:
        super().__init__()
        self.content = nn.Sequential(nn.Linear(dim, attention_dim), nn.Tanh(), nn.Dropout(dropout))
        self.gate = nn.Sequential(nn.Linear(dim, attention_dim), nn.Sigmoid(), nn.Dropout(dropout))
        self.score = nn.Linear(attention_dim, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(1, N, dim) tokens -> (1, N) attention logits."""
        return self.score(self.content(tokens) * self.gate(tokens)).squeeze(-1)


class ABMIL(nn.Module):
    """Embed patches, pool them by gated attention, and map the bag embedding to time-bin logits."""

    def __init__(
        self,
        backbone_dim: int,
        n_bins: int = 4,
        hidden_dim: int = 256,
        attention_dim: int = 128,
        dropout: float = 0.25,
        scale: str = "source",
    ) -> None:
        super().__init__()
        self.scale = scale
        self.embed = nn.Sequential(nn.Linear(backbone_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))
        self.pool = GatedAttentionPool(hidden_dim, attention_dim, dropout)
        self.head = SurvivalHead(hidden_dim, n_bins)

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        tokens = self.embed(pick_scale(self.scale, x5, x10, x20))
        weights = torch.softmax(self.pool(tokens), dim=-1)
        bag_embedding = torch.einsum("bn,bnd->bd", weights, tokens)
        return SurvivalOutput.from_logits(self.head(bag_embedding))

    @torch.no_grad()
    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        """Attention logits (before the softmax) at the model's scale, computed chunk by chunk.

        Logits rather than softmax weights: they do not depend on the bag size, so maps of different
        slides share one colour scale.
        """
        bag = pick_scale(self.scale, x5, x10, x20)[0]
        logits = [self.pool(self.embed(chunk).unsqueeze(0))[0] for chunk in bag.split(chunk_size)]
        return scores_at_scale(self.scale, torch.cat(logits))

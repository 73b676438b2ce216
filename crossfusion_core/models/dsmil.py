"""DSMIL (Li et al., 2021): a max-pooling instance stream and an attention stream whose attention is
the similarity of every patch to the most suspicious (critical) patch of each time bin."""

from __future__ import annotations

import torch
from torch import nn

from crossfusion_core.models.bags import pick_scale, scores_at_scale
from crossfusion_core.models.outputs import SurvivalHead, SurvivalOutput, in_float32


class DSMIL(nn.Module):
    """Logits = mean of the instance stream's max and the bag stream's output, per time bin."""

    def __init__(
        self,
        backbone_dim: int,
        n_bins: int = 4,
        hidden_dim: int = 256,
        query_dim: int = 128,
        dropout: float = 0.25,
        scale: str = "source",
    ) -> None:
        super().__init__()
        self.scale = scale
        self.embed = nn.Sequential(nn.Linear(backbone_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))
        self.instance_head = SurvivalHead(hidden_dim, n_bins)
        self.query = nn.Sequential(nn.Linear(hidden_dim, query_dim), nn.Tanh())
        self.value = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_dim, hidden_dim))
        self.bag_head = nn.Conv1d(n_bins, n_bins, kernel_size=hidden_dim)

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        tokens = self.embed(pick_scale(self.scale, x5, x10, x20)[0])
        instance_logits = self.instance_head(tokens)
        weights = torch.softmax(self._similarity(tokens, instance_logits), dim=0)
        bag = weights.transpose(0, 1) @ self.value(tokens)
        bag_logits = in_float32(self.bag_head, bag.unsqueeze(0)).squeeze(-1)
        return SurvivalOutput.from_logits(0.5 * (instance_logits.max(dim=0).values.unsqueeze(0) + bag_logits))

    @torch.no_grad()
    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        """Similarity logits to the critical patches (before the softmax), averaged over time bins."""
        tokens = torch.cat(
            [self.embed(chunk) for chunk in pick_scale(self.scale, x5, x10, x20)[0].split(chunk_size)]
        )
        return scores_at_scale(self.scale, self._similarity(tokens, self.instance_head(tokens)).mean(dim=1))

    def _similarity(self, tokens: torch.Tensor, instance_logits: torch.Tensor) -> torch.Tensor:
        """(N, n_bins) scaled dot products of each patch's query with each bin's critical patch."""
        queries = self.query(tokens)
        critical = queries[instance_logits.argmax(dim=0)]
        return queries @ critical.transpose(0, 1) / queries.shape[1] ** 0.5

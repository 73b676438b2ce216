"""Single-scale Pad-Transformer models: TransMIL and CrossFusion without its other scales.

Both read one bag (option ``scale``), embed it, and summarise it with a class-token Pad-Transformer;
``crossfusion_single`` first runs the bag through a branch Pad-Transformer as CrossFusion does for
its source scale, so the comparison with CrossFusion isolates what the other two scales add.
``transmil`` follows TransMIL (Shao et al., 2021) in structure (square padding, class token,
attention, PPEG, attention), with exact attention in place of the Nyström approximation and
CrossFusion's layer layout.
"""

from __future__ import annotations

import torch
from torch import nn

from crossfusion_core.models.bags import pick_scale, scores_at_scale
from crossfusion_core.models.crossfusion import init_weights, input_projection
from crossfusion_core.models.outputs import SurvivalHead, SurvivalOutput
from crossfusion_core.models.pad_transformer import PadTransformer


class PadTransformerMIL(nn.Module):
    """Projection, optional branch Pad-Transformer, class-token Pad-Transformer, linear head.

    Its sizes have no defaults here: ``transmil`` and ``crossfusion_single`` differ in heads and
    dropouts, and their options models (``models.options``) are the one place those defaults live.
    """

    def __init__(
        self,
        backbone_dim: int,
        n_bins: int,
        *,
        embed_dim: int,
        num_heads: int,
        num_layers: int,
        mlp_ratio: float,
        dropout: float,
        attn_dropout: float,
        qkv_bias: bool,
        scale: str,
        branch: bool,
    ) -> None:
        super().__init__()
        transformer = dict(
            dim=embed_dim,
            num_heads=num_heads,
            num_layers=num_layers,
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            attn_dropout=attn_dropout,
        )
        self.scale = scale
        self.project = input_projection(backbone_dim, embed_dim)
        self.branch = PadTransformer(**transformer) if branch else nn.Identity()
        self.final = PadTransformer(**transformer, class_token=True)
        self.head = SurvivalHead(embed_dim, n_bins)
        self.apply(init_weights)

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        return SurvivalOutput.from_logits(self.head(self.final(self._tokens(x5, x10, x20))[:, 0]))

    @torch.no_grad()
    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        """Class-token attention in the last layer, at the model's scale (one query: no chunks needed)."""
        n_patches = pick_scale(self.scale, x5, x10, x20).shape[1]
        scores = self.final.class_token_attention(self._tokens(x5, x10, x20), n_patches)
        return scores_at_scale(self.scale, scores)

    def _tokens(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> torch.Tensor:
        return self.branch(self.project(pick_scale(self.scale, x5, x10, x20)))

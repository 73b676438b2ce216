"""CrossFusion (Soraki et al., MIDL 2026): 10x patches attend to 5x and 20x patches, three
Pad-Transformers, a convolutional fusion of the three maps, and a class-token Pad-Transformer.

The computation follows the original implementation (github.com/RustinS/CrossFusion,
``models/CrossFusion.py``) so that its checkpoints convert (see ``original_names.py``), with two
deliberate differences: attention dropout is off in eval mode (the original drops attention at
inference), and the same numbers are computed with less memory and time (attention without
materialised matrices, ``attention.py``; fused convolutions, ``convolution.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from crossfusion_core.models.attention import MultiHeadAttention
from crossfusion_core.models.bags import as_bag
from crossfusion_core.models.convolution import summed_conv
from crossfusion_core.models.original_names import load_original_state_dict
from crossfusion_core.models.outputs import SurvivalHead, SurvivalOutput
from crossfusion_core.models.pad_transformer import PadTransformer, feed_forward, square_side
from crossfusion_core.scales import SCALE_GROUPS, SCALE_NAMES

FUSIONS = ("conv", "concat")


def input_projection(backbone_dim: int, embed_dim: int) -> nn.Module:
    """Linear + LayerNorm to the embedding size; nothing when the backbone already has that size."""
    if backbone_dim == embed_dim:
        return nn.Identity()
    return nn.Sequential(nn.Linear(backbone_dim, embed_dim), nn.LayerNorm(embed_dim))


class CrossAttentionBlock(nn.Module):
    """Source tokens query a whole other-scale bag; residual, LayerNorm, residual MLP.

    One learnable scale embedding is added to both sides, marking the pair of scales involved.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, dropout: float, qkv_bias: bool) -> None:
        super().__init__()
        self.scale_embedding = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.scale_embedding, std=0.02)
        self.attn = MultiHeadAttention(dim, num_heads, attn_dropout=0.0, qkv_bias=qkv_bias)
        self.norm = nn.LayerNorm(dim)
        self.ffn = feed_forward(dim, mlp_ratio, dropout)

    def forward(self, source: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        mixed = source + self.attn(source + self.scale_embedding, context + self.scale_embedding)
        mixed = self.norm(mixed)
        return mixed + self.ffn(mixed)

    def attention_received(
        self, source: torch.Tensor, context: torch.Tensor, chunk_size: int
    ) -> torch.Tensor:
        """Attention mass each context patch receives from all source queries: (N_context,)."""
        return self.attn.attention_received(
            source + self.scale_embedding, context + self.scale_embedding, chunk_size
        )


class ConvFusion(nn.Module):
    """The Conv Processor: the three square maps mixed by a 1x1x1 Conv3d, then grouped 7/5/3 convs
    to dim/2 channels with a 1x1 shortcut, ReLU, channel dropout, and a linear map back to dim."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        half = dim // 2
        self.mix_scales = nn.Conv3d(3, 1, kernel_size=1)
        self.conv7 = nn.Conv2d(dim, half, 7, padding=3, groups=half)
        self.conv5 = nn.Conv2d(dim, half, 5, padding=2, groups=half)
        self.conv3 = nn.Conv2d(dim, half, 3, padding=1, groups=half)
        self.shortcut = nn.Conv2d(dim, half, 1, groups=half)
        self.activate = nn.Sequential(nn.ReLU(), nn.Dropout2d(dropout))
        self.project = nn.Sequential(nn.Linear(half, dim), nn.LayerNorm(dim))

    def forward(self, source: torch.Tensor, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Three (1, side**2, dim) maps -> (1, side**2, dim).

        A 1x1x1 Conv3d over the three stacked maps is a weighted sum of the maps plus a bias; it is
        computed as that, on the tokens, before they are laid out as an image.
        """
        scale_weights = self.mix_scales.weight.view(3)
        mixed = source * scale_weights[0] + fine * scale_weights[1] + coarse * scale_weights[2]
        side = square_side(source.shape[1])
        image = (mixed + self.mix_scales.bias).transpose(1, 2).unflatten(2, (side, side))
        image = summed_conv(image, (self.shortcut, self.conv7, self.conv5, self.conv3))
        return self.project(self.activate(image).flatten(2).transpose(1, 2))


class ConcatFusion(nn.Module):
    """Ablation of the Conv Processor: per token, the three maps concatenated and projected."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(3 * dim, dim), nn.LayerNorm(dim), nn.Dropout(dropout))

    def forward(self, source: torch.Tensor, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([source, fine, coarse], dim=-1))


class CrossFusion(nn.Module):
    """Multi-scale survival model: ``model(x5, x10, x20)`` -> ``SurvivalOutput`` over ``n_bins`` bins."""

    def __init__(
        self,
        backbone_dim: int,
        embed_dim: int = 512,
        num_heads: int = 4,
        num_layers: int = 1,
        n_bins: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.3,
        attn_dropout: float = 0.2,
        qkv_bias: bool = True,
        fusion: str = "conv",
        cross_init: str = "mean_pool",
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion={fusion!r} is not one of {FUSIONS}")
        transformer = dict(
            dim=embed_dim,
            num_heads=num_heads,
            num_layers=num_layers,
            mlp_ratio=mlp_ratio,
            dropout=dropout,
            attn_dropout=attn_dropout,
        )
        self.project = nn.ModuleDict(
            {scale: input_projection(backbone_dim, embed_dim) for scale in SCALE_NAMES}
        )
        self.cross = nn.ModuleDict(
            {
                scale: CrossAttentionBlock(embed_dim, num_heads, mlp_ratio, dropout, qkv_bias)
                for scale in ("coarse", "fine")
            }
        )
        self.branches = nn.ModuleDict({scale: PadTransformer(**transformer) for scale in SCALE_NAMES})
        self.fusion = ConvFusion(embed_dim, dropout) if fusion == "conv" else ConcatFusion(embed_dim, dropout)
        self.final = PadTransformer(**transformer, class_token=True)
        self.head = SurvivalHead(embed_dim, n_bins)
        self.apply(init_weights)
        nn.init.normal_(self.final.class_token, std=1e-6)
        if cross_init == "mean_pool":
            for block in self.cross.values():
                start_as_context_mean(block.attn)

    @classmethod
    def from_original_state_dict(
        cls,
        state_dict: Mapping[str, torch.Tensor],
        embed_dim: int,
        num_heads: int,
        num_layers: int,
        backbone_dim: int,
        n_classes: int,
    ) -> CrossFusion:
        """Our model with the weights of a checkpoint saved by the original code (original key names)."""
        model = cls(
            backbone_dim, embed_dim=embed_dim, num_heads=num_heads, num_layers=num_layers, n_bins=n_classes
        )
        load_original_state_dict(model, state_dict)
        return model

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        summary = self.final(self._fused(*self._embedded(x5, x10, x20)))[:, 0]
        return SurvivalOutput.from_logits(self.head(summary))

    @torch.no_grad()
    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor]:
        """Per-patch attention, chunked so that no N10 x N20 matrix is ever built.

        - 5x and 20x: attention mass each patch receives from all 10x queries in its cross-attention
          block (summed over queries, averaged over heads): which context the source patches read.
        - 10x: attention of the class token over the fused tokens in the last layer of the final
          Pad-Transformer (padding copies folded back onto their patch): which positions the
          prediction reads. (The original's 10x map sums softmax rows and is therefore constant.)

        Call it in eval mode (as ``load_checkpoint`` returns models), or dropout perturbs the 10x map.
        """
        coarse, source, fine = self._embedded(x5, x10, x20)
        scores = (
            self.cross["coarse"].attention_received(source, coarse, chunk_size),
            self.final.class_token_attention(self._fused(coarse, source, fine), source.shape[1]),
            self.cross["fine"].attention_received(source, fine, chunk_size),
        )
        return dict(zip(SCALE_GROUPS, scores, strict=True))

    def _embedded(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> tuple[torch.Tensor, ...]:
        bags = zip(SCALE_NAMES, (x5, x10, x20), SCALE_GROUPS, strict=True)
        return tuple(self.project[scale](as_bag(bag, name)) for scale, bag, name in bags)

    def _fused(self, coarse: torch.Tensor, source: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """Cross-attend, run the three branch Pad-Transformers and fuse: (1, side**2, dim)."""
        coarse_in_source = self.branches["coarse"](self.cross["coarse"](source, coarse))
        fine_in_source = self.branches["fine"](self.cross["fine"](source, fine))
        return self.fusion(self.branches["source"](source), fine_in_source, coarse_in_source)


def start_as_context_mean(attention: MultiHeadAttention) -> None:
    """Value and output projections as the identity (no bias): with the near-uniform attention of small
    query and key weights, each query then receives the plain mean of the context tokens.

    Why: with the original's small random value and output weights a source patch first receives its
    context at a few percent of its own amplitude, and on the synthetic demo, whose risk sits in the
    mean of the 20x patches, CrossFusion stays below a one-scale model reading 20x directly (pooled C
    0.60 against 0.675; benchmarks/README.md, "Learning").
    """
    for projection in (attention.value, attention.out):
        nn.init.eye_(projection.weight)
        if projection.bias is not None:
            nn.init.zeros_(projection.bias)


def init_weights(module: nn.Module) -> None:
    """The original's initialisation: truncated-normal linears, unit LayerNorms, He-normal convs."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.Conv2d, nn.Conv3d)):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)

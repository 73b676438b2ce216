"""The Pad-Transformer of CrossFusion (after TransMIL): attention, a convolutional position encoding
over the bag laid out as a square image, attention again.

Patches have no fixed order or count, so the bag is padded to the next square number of tokens by
repeating its first tokens, and the depthwise convolutions (PPEG) then mix each token with the tokens
that landed near it on that square.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from crossfusion_core.models.attention import MultiHeadAttention
from crossfusion_core.models.convolution import summed_depthwise_conv


def square_side(n_tokens: int) -> int:
    """Side of the smallest square holding ``n_tokens``."""
    return math.isqrt(n_tokens - 1) + 1 if n_tokens > 0 else 0


def square_pad(tokens: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(1, N, dim) -> (1, side**2, dim) by appending copies of the first tokens, and the side."""
    n_tokens = tokens.shape[1]
    side = square_side(n_tokens)
    return torch.cat([tokens, tokens[:, : side * side - n_tokens]], dim=1), side


def fold_padding(padded_scores: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Scores of a padded square back on the ``n_tokens`` original tokens: each token gets the mean of
    its own score and its copies' scores.

    Padding repeats the first tokens, so padded position ``i`` is a copy of token ``i % n_tokens``. A
    sum would give a repeated patch about twice the score of its neighbours for being repeated, not
    for being looked at (on random bags every top-scoring 10x patch was a padding source).
    """
    index = torch.arange(padded_scores.shape[0], device=padded_scores.device) % n_tokens
    copies = torch.bincount(index, minlength=n_tokens).to(padded_scores.dtype)
    totals = torch.zeros(n_tokens, dtype=padded_scores.dtype, device=padded_scores.device)
    return totals.index_add_(0, index, padded_scores) / copies


def feed_forward(dim: int, mlp_ratio: float, dropout: float) -> nn.Sequential:
    """Linear, GELU, dropout, linear, dropout: the MLP of every transformer layer here."""
    hidden_dim = int(dim * mlp_ratio)
    return nn.Sequential(
        nn.Linear(dim, hidden_dim),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_dim, dim),
        nn.Dropout(dropout),
    )


class TransformerLayer(nn.Module):
    """CrossFusion's layer: normalise, then add attention; normalise, then add the MLP.

    The residual is taken from the normalised tokens (not the pre-norm, not the post-norm layout);
    that is what the original computes, and the converted checkpoints depend on it.
    """

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, dropout: float, attn_dropout: float
    ) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, attn_dropout)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = feed_forward(dim, mlp_ratio, dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = self.attn_norm(tokens)
        tokens = tokens + self.attn(tokens)
        tokens = self.ffn_norm(tokens)
        return tokens + self.ffn(tokens)


class PositionEncodingConv(nn.Module):
    """PPEG: identity plus depthwise 7x7, 5x5 and 3x3 convolutions over the square of tokens."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv7 = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.conv5 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv3 = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, tokens: torch.Tensor, side: int) -> torch.Tensor:
        """(1, side**2, dim) -> same shape."""
        return tokens + summed_depthwise_conv(tokens, side, (self.conv7, self.conv5, self.conv3))


class PadTransformer(nn.Module):
    """Pad to a square, ``num_layers`` layers, PPEG, ``num_layers`` layers, LayerNorm.

    With ``class_token`` a learnable token is put in front after padding; it skips the PPEG and its
    output summarises the bag.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_layers: int,
        mlp_ratio: float,
        dropout: float,
        attn_dropout: float,
        class_token: bool = False,
    ) -> None:
        super().__init__()

        def layers() -> nn.Sequential:
            return nn.Sequential(
                *(
                    TransformerLayer(dim, num_heads, mlp_ratio, dropout, attn_dropout)
                    for _ in range(num_layers)
                )
            )

        self.class_token = nn.Parameter(torch.zeros(1, 1, dim)) if class_token else None
        self.pre = layers()
        self.ppeg = PositionEncodingConv(dim)
        self.post = layers()
        self.norm = nn.LayerNorm(dim)

    @property
    def n_prefix(self) -> int:
        return 0 if self.class_token is None else 1

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(1, N, dim) -> (1, [1 +] side**2, dim): the padded bag (and class token first), transformed."""
        tokens, side = self._enter(tokens)
        return self.norm(self.post(self._middle(tokens, side)))

    def class_token_attention(self, tokens: torch.Tensor, n_patches: int) -> torch.Tensor:
        """Attention of the class token over the bag in the last layer, per patch: (n_patches,).

        ``tokens`` may already be a padded square of ``n_patches`` patches (as CrossFusion's fused map
        is); a patch's score is the mean over its copies. The class token's attention to itself is left
        out, so the scores sum to at most 1 (less when patches are repeated).
        """
        if self.class_token is None:
            raise ValueError("this Pad-Transformer has no class token")
        tokens, side = self._enter(tokens)
        tokens = self.post[:-1](self._middle(tokens, side))
        last = self.post[-1]
        return fold_padding(last.attn.attention_from(last.attn_norm(tokens), query_index=0)[1:], n_patches)

    def _enter(self, tokens: torch.Tensor) -> tuple[torch.Tensor, int]:
        tokens, side = square_pad(tokens)
        if self.class_token is not None:
            tokens = torch.cat(
                [self.class_token.expand(tokens.shape[0], -1, -1).to(tokens.dtype), tokens], dim=1
            )
        return tokens, side

    def _middle(self, tokens: torch.Tensor, side: int) -> torch.Tensor:
        """Pre layers and the PPEG (which leaves the class token alone)."""
        tokens = self.pre(tokens)
        prefix, grid = tokens[:, : self.n_prefix], tokens[:, self.n_prefix :]
        return torch.cat([prefix, self.ppeg(grid, side)], dim=1)

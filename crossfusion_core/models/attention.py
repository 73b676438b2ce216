"""Multi-head attention that never holds a full attention matrix, and the scores read from it.

Bags reach 8,000 source and 32,000 fine patches. PyTorch's fused CPU kernel behind
``scaled_dot_product_attention`` works in blocks (memory linear in the bag size) but only without
dropout; with attention dropout it falls back to the plain computation that stores several N x N
matrices per layer (4 GB each at N = 8,000 with 4 heads). So training with attention dropout runs the
queries in chunks, each under activation checkpointing: only one chunk's matrices exist at a time, and
the backward pass recomputes them (with the same dropout mask, as checkpointing restores the RNG state).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

MAX_SCORE_ELEMENTS = 2**24
"""Largest heads x queries x keys block materialised at once (64 MB in float32)."""


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` over (B, heads, N, head_dim) tensors, with attention dropout.

    ``dropout_p`` must already be 0 in eval mode: callers pass ``p if self.training else 0``.
    """
    heads, n_queries, n_keys = query.shape[1], query.shape[2], key.shape[2]
    if dropout_p == 0.0 or heads * n_queries * n_keys <= MAX_SCORE_ELEMENTS:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p)
    rows = max(1, MAX_SCORE_ELEMENTS // (heads * n_keys))
    chunks = [
        checkpoint(_attend_chunk, chunk, key, value, dropout_p, use_reentrant=False)
        for chunk in query.split(rows, dim=2)
    ]
    return torch.cat(chunks, dim=2)


def _attend_chunk(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float
) -> torch.Tensor:
    return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with separate query, key, value and output projections.

    Self-attention when called with one bag, cross-attention when given a ``context`` bag.
    """

    def __init__(self, dim: int, num_heads: int, attn_dropout: float = 0.0, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embedding dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.attn_dropout = attn_dropout
        self.query = nn.Linear(dim, dim, bias=qkv_bias)
        self.key = nn.Linear(dim, dim, bias=qkv_bias)
        self.value = nn.Linear(dim, dim, bias=qkv_bias)
        self.out = nn.Linear(dim, dim)

    def split_heads(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, dim) -> (B, heads, N, head_dim)."""
        batch, n_tokens, dim = tokens.shape
        return tokens.view(batch, n_tokens, self.num_heads, dim // self.num_heads).transpose(1, 2)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = tokens if context is None else context
        dropout_p = self.attn_dropout if self.training else 0.0
        mixed = attend(
            self.split_heads(self.query(tokens)),
            self.split_heads(self.key(context)),
            self.split_heads(self.value(context)),
            dropout_p,
        )
        return self.out(mixed.transpose(1, 2).flatten(2))

    def attention_received(
        self, tokens: torch.Tensor, context: torch.Tensor, chunk_size: int
    ) -> torch.Tensor:
        """Per context token, the attention it receives summed over all queries, averaged over heads.

        The softmax of each query row needs the whole context, so chunks run over the queries: one
        ``heads x chunk_size x N_context`` block at a time, never the full matrix. (1, N, dim) inputs;
        returns (N_context,).
        """
        keys = self.split_heads(self.key(context))
        received = torch.zeros(keys.shape[2], dtype=keys.dtype, device=keys.device)
        for chunk in tokens.split(chunk_size, dim=1):
            weights = self._weights(self.split_heads(self.query(chunk)), keys)
            received += weights.sum(dim=(0, 2)).mean(dim=0)
        return received

    def attention_from(self, tokens: torch.Tensor, query_index: int) -> torch.Tensor:
        """The attention row of one query token over all tokens, averaged over heads: (N,)."""
        query = self.split_heads(self.query(tokens[:, query_index : query_index + 1]))
        return self._weights(query, self.split_heads(self.key(tokens)))[0, :, 0].mean(dim=0)

    @staticmethod
    def _weights(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        scale = query.shape[-1] ** -0.5
        return torch.softmax(query @ keys.transpose(-2, -1) * scale, dim=-1)

"""Multi-head attention that never holds a full attention matrix, and the scores read from it.

Bags reach 8,000 source and 32,000 fine patches. PyTorch's fused CPU kernel behind
``scaled_dot_product_attention`` works in blocks (memory linear in the bag size) but only without
dropout; with attention dropout it falls back to the plain computation that keeps several float
N x N matrices per layer (1 GB each at N = 8,000 with 4 heads). So attention with dropout runs here
in chunks of queries: only the dropout mask is kept for backward (1 byte per entry), and the backward
pass recomputes each chunk's probabilities from the stored row log-sum-exps, one chunk at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_SCORE_ELEMENTS = 2**24
"""Largest heads x queries x keys block of floats materialised at once (64 MB in float32)."""


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float) -> torch.Tensor:
    """``dropout(softmax(q k^T / sqrt(d))) v`` over (B, heads, N, head_dim) tensors.

    ``dropout_p`` must already be 0 in eval mode: callers pass ``p if self.training else 0``.
    """
    if dropout_p == 0.0:
        return F.scaled_dot_product_attention(query, key, value)
    return _ChunkedDropoutAttention.apply(query, key, value, dropout_p)


def drop_mask(shape: torch.Size, dropout_p: float, device: torch.device | None = None) -> torch.Tensor:
    """Boolean mask, True (dropped) with probability ``dropout_p`` rounded to a multiple of 1/65536.

    Each 64-bit random integer gives four 16-bit uniform draws: a quarter of the generator work of
    ``bernoulli_``, whose cost was a fifth of a training step at 4,000 source patches.
    """
    n_draws = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, ((n_draws + 3) // 4,), dtype=torch.int64, device=device)
    return words.view(torch.int16)[:n_draws].view(shape) < round(dropout_p * 65536) - 32768


def _chunk_rows(query: torch.Tensor, key: torch.Tensor) -> int:
    return max(1, MAX_SCORE_ELEMENTS // (query.shape[0] * query.shape[1] * key.shape[2]))


class _ChunkedDropoutAttention(torch.autograd.Function):
    """Attention with dropout on the probabilities, computed and differentiated chunk by chunk."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        dropout_p: float,
    ) -> torch.Tensor:
        scale = query.shape[-1] ** -0.5
        outputs, log_sums, masks = [], [], []
        for chunk in query.split(_chunk_rows(query, key), dim=2):
            logits = chunk @ key.transpose(-2, -1) * scale
            log_sum = torch.logsumexp(logits, dim=-1, keepdim=True)
            dropped = drop_mask(logits.shape, dropout_p, logits.device)
            kept = (logits - log_sum).exp_().masked_fill_(dropped, 0.0).div_(1.0 - dropout_p)
            outputs.append(kept @ value)
            log_sums.append(log_sum)
            masks.append(dropped)
        ctx.save_for_backward(query, key, value, torch.cat(log_sums, dim=2), torch.cat(masks, dim=2))
        ctx.dropout_p = dropout_p
        return torch.cat(outputs, dim=2)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor) -> tuple:
        query, key, value, log_sum, dropped = ctx.saved_tensors
        keep = 1.0 - ctx.dropout_p
        scale = query.shape[-1] ** -0.5
        grad_query = torch.empty_like(query)
        grad_key, grad_value = torch.zeros_like(key), torch.zeros_like(value)
        rows = _chunk_rows(query, key)
        for start in range(0, query.shape[2], rows):
            part = slice(start, start + rows)
            chunk, grad_chunk = query[:, :, part], grad_output[:, :, part]
            probabilities = (chunk @ key.transpose(-2, -1) * scale - log_sum[:, :, part]).exp_()
            chunk_dropped = dropped[:, :, part]
            kept = probabilities.masked_fill(chunk_dropped, 0.0).div_(keep)
            grad_value += kept.transpose(-2, -1) @ grad_chunk
            grad_probabilities = (
                (grad_chunk @ value.transpose(-2, -1)).masked_fill_(chunk_dropped, 0.0).div_(keep)
            )
            row_dot = (grad_probabilities * probabilities).sum(dim=-1, keepdim=True)
            grad_logits = probabilities.mul_(grad_probabilities.sub_(row_dot)).mul_(scale)
            grad_query[:, :, part] = grad_logits @ key
            grad_key += grad_logits.transpose(-2, -1) @ chunk
        return grad_query, grad_key, grad_value, None


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

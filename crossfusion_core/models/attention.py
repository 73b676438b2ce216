"""Multi-head attention that never holds a full attention matrix, and the scores read from it.

Bags reach 8,000 source and 32,000 fine patches. Without dropout, ``scaled_dot_product_attention``
runs fused kernels in blocks (memory linear in the bag size) on every device. With attention dropout,
CUDA still has fused kernels (flash / memory-efficient attention draw the dropout mask inside the
kernel), but the CPU falls back to the plain computation that keeps several float N x N matrices per
layer (1 GB each at N = 8,000 with 4 heads). So on the CPU, attention with dropout runs here in chunks
of queries: only the keep mask is stored for backward (1 byte per entry), and the backward pass
recomputes each chunk's probabilities, one chunk at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_SCORE_ELEMENTS = 2**24
"""Largest batch x heads x queries x keys block of floats materialised at once (64 MB in float32).

The fastest of 2**21 to 2**24 for a training step on the project's 2-core machine (benchmarks/README.md):
smaller blocks stay in cache, but every block costs a handful of parallel regions, and with two threads
on a busy machine waiting for the slower thread at each one outweighed the cache.
"""


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float) -> torch.Tensor:
    """``dropout(softmax(q k^T / sqrt(d))) v`` over (B, heads, N, head_dim) tensors.

    ``dropout_p`` must already be 0 in eval mode: callers pass ``p if self.training else 0``.
    """
    if dropout_p == 0.0 or query.device.type != "cpu":
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p)
    return _ChunkedDropoutAttention.apply(query, key, value, dropout_p)


def query_scale(query: torch.Tensor) -> float:
    """The ``1 / sqrt(head_dim)`` that scaled dot-product attention multiplies the scores by."""
    return query.shape[-1] ** -0.5


def keep_mask(shape: torch.Size, dropout_p: float, device: torch.device | None = None) -> torch.Tensor:
    """Boolean mask, True (kept) with probability ``1 - dropout_p``, ``dropout_p`` rounded to 1/65536.

    Each 64-bit random integer gives four 16-bit uniform draws: a quarter of the generator work of
    ``bernoulli_``, whose cost was a fifth of a training step at 4,000 source patches.
    """
    n_draws = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, ((n_draws + 3) // 4,), dtype=torch.int64, device=device)
    return words.view(torch.int16)[:n_draws].view(shape) >= round(dropout_p * 65536) - 32768


def _row_chunks(query: torch.Tensor, key: torch.Tensor) -> list[slice]:
    """Query rows processed together, so that a chunk's scores hold at most MAX_SCORE_ELEMENTS."""
    n_queries = query.shape[2]
    rows = min(n_queries, max(1, MAX_SCORE_ELEMENTS // (query.shape[0] * query.shape[1] * key.shape[2])))
    return [slice(start, min(start + rows, n_queries)) for start in range(0, n_queries, rows)]


class _ChunkBlocks:
    """Float blocks of one chunk's scores, allocated once per call and reused by every chunk.

    A fresh block per chunk costs page faults and fragments the heap (peak resident memory of a
    training step at 4,000 source patches was 0.15-0.2 GB higher that way).
    """

    def __init__(self, query: torch.Tensor, key: torch.Tensor, rows: slice, count: int) -> None:
        size = query.shape[0] * query.shape[1] * (rows.stop - rows.start) * key.shape[2]
        self.blocks = [query.new_empty(size) for _ in range(count)]
        self.n_keys = key.shape[2]

    def view(self, index: int, queries: torch.Tensor) -> torch.Tensor:
        """Block ``index`` as the (B, heads, rows, keys) scores of the chunk ``queries``."""
        shape = (*queries.shape[:3], self.n_keys)
        return self.blocks[index][: math.prod(shape)].view(shape)


def _accumulate_product(total: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> None:
    """``total += left @ right`` over (B, heads, ., .) tensors, inside the matrix product (no temporary);
    ``total`` must be contiguous (``view`` refuses otherwise, rather than adding into a copy)."""
    total.view(-1, *total.shape[2:]).baddbmm_(left.flatten(0, 1), right.flatten(0, 1))


class _ChunkedDropoutAttention(torch.autograd.Function):
    """Attention with dropout on the probabilities, computed and differentiated chunk by chunk (CPU).

    Per chunk the forward pass does two matrix products, a softmax and one multiply by the keep mask;
    the backward pass five products, a softmax and five elementwise passes. The softmax gradient's
    row term ``sum_j P_ij dP_ij`` equals ``dO_i . O_i`` (flash attention's identity, which holds with
    dropout too), so it comes from the stored output rather than from a pass over the chunk. Under
    autocast the inputs are cast to float32, so the softmax and the masked sums run in float32.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        dropout_p: float,
    ) -> torch.Tensor:
        scaled_query = query * query_scale(query)
        keys_t = key.transpose(-2, -1)
        chunks = _row_chunks(query, key)
        blocks = _ChunkBlocks(query, key, chunks[0], count=2)
        outputs, masks = [], []
        for rows in chunks:
            queries = scaled_query[:, :, rows]
            scores = torch.matmul(queries, keys_t, out=blocks.view(0, queries))
            probabilities = torch.softmax(scores, dim=-1, out=blocks.view(1, queries))
            kept = keep_mask(probabilities.shape, dropout_p, probabilities.device)
            outputs.append(probabilities.mul_(kept.view(torch.uint8)) @ value)
            masks.append(kept)
        output = torch.cat(outputs, dim=2).mul_(1.0 / (1.0 - dropout_p))
        ctx.save_for_backward(scaled_query, key, value, output, *masks)
        ctx.dropout_p = dropout_p
        return output

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor) -> tuple:
        scaled_query, key, value, output, *masks = ctx.saved_tensors
        row_dot = (grad_output * output).sum(dim=-1, keepdim=True)
        grad_kept = grad_output * (1.0 / (1.0 - ctx.dropout_p))
        grad_query = torch.empty_like(scaled_query)
        grad_key, grad_value = key.new_zeros(key.shape), value.new_zeros(value.shape)
        keys_t, values_t = key.transpose(-2, -1), value.transpose(-2, -1)
        chunks = _row_chunks(scaled_query, key)
        blocks = _ChunkBlocks(scaled_query, key, chunks[0], count=3)
        for rows, kept in zip(chunks, masks, strict=True):
            queries, grads = scaled_query[:, :, rows], grad_kept[:, :, rows]
            scores = torch.matmul(queries, keys_t, out=blocks.view(0, queries))
            probabilities = torch.softmax(scores, dim=-1, out=blocks.view(1, queries))
            kept_float = blocks.view(2, queries).copy_(kept)
            grad_scores = torch.matmul(grads, values_t, out=blocks.view(0, queries)).mul_(kept_float)
            kept_probabilities = kept_float.mul_(probabilities)
            _accumulate_product(grad_value, kept_probabilities.transpose(-2, -1), grads)
            grad_scores.sub_(row_dot[:, :, rows]).mul_(probabilities)
            grad_query[:, :, rows] = grad_scores @ key
            _accumulate_product(grad_key, grad_scores.transpose(-2, -1), queries)
        return grad_query.mul_(query_scale(scaled_query)), grad_key, grad_value, None


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
        return torch.softmax(query @ keys.transpose(-2, -1) * query_scale(query), dim=-1)

"""Chunked attention: the memory-saving paths must compute what the plain formulas do."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from crossfusion_core.models import attention
from crossfusion_core.models.attention import MultiHeadAttention, attend


def _qkv(n_queries: int, n_keys: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    shapes = ((1, 2, n_queries, 8), (1, 2, n_keys, 8), (1, 2, n_keys, 8))
    return tuple(torch.randn(shape, generator=generator, requires_grad=True) for shape in shapes)


def test_chunked_dropout_recomputes_the_same_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpointed chunks must replay their dropout masks in backward, or the gradients are wrong."""
    monkeypatch.setattr(attention, "MAX_SCORE_ELEMENTS", 2 * 5 * 30)
    query, key, value = _qkv(23, 30)
    torch.manual_seed(1)
    attend(query, key, value, dropout_p=0.3).square().sum().backward()
    chunked_grads = [tensor.grad.clone() for tensor in (query, key, value)]

    query, key, value = _qkv(23, 30)
    torch.manual_seed(1)
    chunks = [
        F.scaled_dot_product_attention(part, key, value, dropout_p=0.3) for part in query.split(5, dim=2)
    ]
    torch.cat(chunks, dim=2).square().sum().backward()
    for chunked, direct in zip(chunked_grads, (query.grad, key.grad, value.grad), strict=True):
        torch.testing.assert_close(chunked, direct)


def test_chunked_attention_without_dropout_matches_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention, "MAX_SCORE_ELEMENTS", 50)
    query, key, value = _qkv(9, 13)
    expected = torch.softmax(query @ key.transpose(-2, -1) / 8**0.5, dim=-1) @ value
    torch.testing.assert_close(attend(query, key, value, dropout_p=0.0), expected)


def test_attention_received_matches_full_matrix() -> None:
    torch.manual_seed(0)
    module = MultiHeadAttention(dim=16, num_heads=4)
    tokens, context = torch.randn(1, 11, 16), torch.randn(1, 29, 16)
    queries = module.split_heads(module.query(tokens))
    keys = module.split_heads(module.key(context))
    full = torch.softmax(queries @ keys.transpose(-2, -1) / 2.0, dim=-1)
    expected = full.sum(dim=2).mean(dim=1)[0]
    with torch.no_grad():
        torch.testing.assert_close(module.attention_received(tokens, context, chunk_size=4), expected)
        assert module.attention_received(tokens, context, chunk_size=4).sum().item() == pytest.approx(11.0)

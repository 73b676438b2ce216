"""Chunked attention: the memory-saving paths must compute what the plain formulas do."""

from __future__ import annotations

import pytest
import torch

from crossfusion_core.models import attention
from crossfusion_core.models.attention import MultiHeadAttention, attend, drop_mask


def _qkv(n_queries: int, n_keys: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    shapes = ((1, 2, n_queries, 8), (1, 2, n_keys, 8), (1, 2, n_keys, 8))
    return tuple(
        torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True) for shape in shapes
    )


def _plain_dropout_attention(query, key, value, dropout_p: float, rows: int) -> torch.Tensor:
    """The textbook formula through autograd, drawing the same masks in the same order as ``attend``."""
    outputs = []
    for chunk in query.split(rows, dim=2):
        probabilities = torch.softmax(chunk @ key.transpose(-2, -1) / 8**0.5, dim=-1)
        dropped = drop_mask(probabilities.shape, dropout_p)
        outputs.append(probabilities * ~dropped / (1 - dropout_p) @ value)
    return torch.cat(outputs, dim=2)


@pytest.mark.parametrize("max_elements", [2 * 5 * 30, 2**24])
def test_chunked_dropout_attention_matches_autograd(
    monkeypatch: pytest.MonkeyPatch, max_elements: int
) -> None:
    monkeypatch.setattr(attention, "MAX_SCORE_ELEMENTS", max_elements)
    rows = max_elements // (2 * 30)
    weights = torch.randn(1, 2, 23, 8, dtype=torch.float64)

    query, key, value = _qkv(23, 30)
    torch.manual_seed(1)
    output = attend(query, key, value, dropout_p=0.3)
    (output * weights).sum().backward()
    grads = [tensor.grad for tensor in (query, key, value)]

    expected_query, expected_key, expected_value = _qkv(23, 30)
    torch.manual_seed(1)
    expected = _plain_dropout_attention(expected_query, expected_key, expected_value, 0.3, rows)
    (expected * weights).sum().backward()
    torch.testing.assert_close(output, expected)
    for grad, tensor in zip(grads, (expected_query, expected_key, expected_value), strict=True):
        torch.testing.assert_close(grad, tensor.grad)
    with torch.no_grad():
        assert not torch.allclose(output, attend(query, key, value, dropout_p=0.0)), "dropout had no effect"


def test_no_dropout_is_the_plain_formula() -> None:
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


@pytest.mark.parametrize("dropout_p", [0.0, 0.2, 0.5])
def test_drop_mask_drops_at_the_requested_rate(dropout_p: float) -> None:
    torch.manual_seed(0)
    mask = drop_mask(torch.Size([4, 250, 1001]), dropout_p)
    assert mask.shape == (4, 250, 1001)
    assert mask.float().mean().item() == pytest.approx(dropout_p, abs=2e-3)
    assert mask.float().mean(dim=(0, 1)).std() < 0.05  # no position is favoured

"""Chunked attention: the memory-saving paths must compute what the plain formulas do."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from crossfusion_core.models import attention
from crossfusion_core.models.attention import MultiHeadAttention, attend, keep_mask


def _qkv(n_queries: int, n_keys: int, batch: int = 1) -> tuple[torch.Tensor, ...]:
    """(batch, 2 heads, N, 8) leaves laid out as ``split_heads`` leaves them: heads inside tokens."""
    generator = torch.Generator().manual_seed(0)
    shapes = ((batch, n_queries, 2, 8), (batch, n_keys, 2, 8), (batch, n_keys, 2, 8))
    leaves = [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in shapes]
    return tuple(leaf.transpose(1, 2).requires_grad_() for leaf in leaves)


def _plain_dropout_attention(query, key, value, dropout_p: float, rows: int) -> torch.Tensor:
    """The textbook formula through autograd, drawing the same masks in the same order as ``attend``."""
    outputs = []
    for chunk in query.split(rows, dim=2):
        probabilities = torch.softmax(chunk @ key.transpose(-2, -1) / 8**0.5, dim=-1)
        kept = keep_mask(probabilities.shape, dropout_p)
        outputs.append(probabilities * kept / (1 - dropout_p) @ value)
    return torch.cat(outputs, dim=2)


@pytest.mark.parametrize(("max_elements", "batch"), [(3 * 2 * 5 * 30, 3), (2**24, 1)])
def test_chunked_dropout_attention_matches_autograd(
    monkeypatch: pytest.MonkeyPatch, max_elements: int, batch: int
) -> None:
    monkeypatch.setattr(attention, "MAX_SCORE_ELEMENTS", max_elements)
    rows = max_elements // (batch * 2 * 30)
    weights = torch.randn(batch, 2, 23, 8, dtype=torch.float64)

    query, key, value = _qkv(23, 30, batch)
    torch.manual_seed(1)
    output = attend(query, key, value, dropout_p=0.3)
    (output * weights).sum().backward()
    grads = [tensor.grad for tensor in (query, key, value)]

    expected_query, expected_key, expected_value = _qkv(23, 30, batch)
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


@pytest.mark.parametrize("implementation", ["chunked", "pytorch"])
def test_dropout_has_the_expected_mean_and_variance(implementation: str) -> None:
    """The chunked CPU path and PyTorch's own dropout attention (the kernel CUDA runs) draw from the
    same distribution: over 4,000 independent draws, mean ``P V`` and per-entry variance
    ``sum_j P_ij^2 V_j^2 p / (1 - p)`` (each kept probability is scaled by 1 / (1 - p))."""
    dropout_p, n_draws = 0.3, 4000
    query, key, value = (tensor.detach()[:, :1, :3, :4] for tensor in _qkv(3, 5))
    query, key, value = (tensor.expand(n_draws, -1, -1, -1).contiguous() for tensor in (query, key, value))
    probabilities = torch.softmax(query[0] @ key[0].transpose(-2, -1) / 2.0, dim=-1)
    expected_mean = probabilities @ value[0]
    expected_variance = probabilities**2 @ value[0] ** 2 * dropout_p / (1 - dropout_p)

    torch.manual_seed(2)
    if implementation == "chunked":
        draws = attend(query, key, value, dropout_p)
    else:
        draws = F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p)
    z_scores = (draws.mean(dim=0) - expected_mean) / (expected_variance / n_draws).sqrt()
    assert z_scores.abs().max() < 4.5
    torch.testing.assert_close(draws.var(dim=0), expected_variance, rtol=0.12, atol=0.0)


def test_chunked_attention_under_bfloat16_autocast_computes_in_float32() -> None:
    query, key, value = (tensor.detach().float() for tensor in _qkv(23, 30))
    torch.manual_seed(3)
    expected = attend(query, key, value, 0.2)
    low = [tensor.bfloat16().requires_grad_() for tensor in (query, key, value)]
    torch.manual_seed(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = attend(*low, 0.2)
    output.sum().backward()
    assert output.dtype == torch.float32
    torch.testing.assert_close(output, expected, rtol=0.05, atol=0.05)
    assert all(t.grad.dtype == torch.bfloat16 and torch.isfinite(t.grad).all() for t in low)


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
def test_keep_mask_keeps_at_the_requested_rate(dropout_p: float) -> None:
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([4, 250, 1001]), dropout_p)
    assert mask.shape == (4, 250, 1001) and mask.dtype == torch.bool
    assert mask.float().mean().item() == pytest.approx(1 - dropout_p, abs=2e-3)
    assert mask.float().mean(dim=(0, 1)).std() < 0.05  # no position is favoured

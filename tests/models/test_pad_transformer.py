"""Square padding and its inverse for scores."""

from __future__ import annotations

import pytest
import torch

from crossfusion_core.models.pad_transformer import PadTransformer, fold_padding, square_pad


@pytest.mark.parametrize(("n_tokens", "side"), [(1, 1), (2, 2), (4, 2), (5, 3), (37, 7), (141, 12)])
def test_square_pad_repeats_the_first_tokens(n_tokens: int, side: int) -> None:
    tokens = torch.arange(n_tokens, dtype=torch.float32).view(1, n_tokens, 1)
    padded, got_side = square_pad(tokens)
    assert got_side == side
    assert padded.shape == (1, side * side, 1)
    assert padded[0, n_tokens:, 0].tolist() == list(range(side * side - n_tokens))


def test_fold_padding_averages_a_patch_over_its_copies() -> None:
    folded = fold_padding(torch.arange(9, dtype=torch.float32), n_tokens=7)
    assert folded.tolist() == [3.5, 4.5, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_identical_tokens_get_a_flat_class_token_map() -> None:
    """Equal tokens are equally attended, repeated or not; the PPEG is zeroed, as its zero-padded
    borders would otherwise tell the positions apart."""
    torch.manual_seed(0)
    transformer = PadTransformer(8, 2, 1, 2.0, 0.0, 0.0, class_token=True).eval()
    with torch.no_grad():
        for conv in (transformer.ppeg.conv7, transformer.ppeg.conv5, transformer.ppeg.conv3):
            conv.weight.zero_()
        scores = transformer.class_token_attention(torch.randn(1, 1, 8).expand(1, 7, 8), 7)
    torch.testing.assert_close(scores, scores.mean().expand(7))


def test_class_token_attention_is_the_same_for_padded_and_unpadded_input() -> None:
    torch.manual_seed(0)
    transformer = PadTransformer(8, 2, 1, 2.0, 0.0, 0.0, class_token=True).eval()
    tokens = torch.randn(1, 7, 8)
    with torch.no_grad():
        scores = transformer.class_token_attention(tokens, 7)
        padded_scores = transformer.class_token_attention(square_pad(tokens)[0], 7)
    torch.testing.assert_close(scores, padded_scores)
    assert scores.shape == (7,)

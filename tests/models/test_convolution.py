"""The fused convolutions equal the separate PyTorch convolutions they replace, values and gradients."""

from __future__ import annotations

import torch
from torch import nn

from crossfusion_core.models.convolution import summed_conv, summed_depthwise_conv


def _convs(in_channels: int, out_channels: int, groups: int, sizes: tuple[int, ...]) -> list[nn.Conv2d]:
    torch.manual_seed(0)
    return [
        nn.Conv2d(in_channels, out_channels, size, padding=size // 2, groups=groups).double()
        for size in sizes
    ]


def test_depthwise_matches_separate_convs_and_gradients() -> None:
    convs = _convs(6, 6, 6, (7, 5, 3))
    tokens = torch.randn(1, 25, 6, dtype=torch.float64, requires_grad=True)
    image = tokens.transpose(1, 2).unflatten(2, (5, 5))
    expected = sum(conv(image) for conv in convs).flatten(2).transpose(1, 2)
    torch.testing.assert_close(summed_depthwise_conv(tokens, 5, convs), expected)

    weights = [conv.weight for conv in convs]
    assert torch.autograd.gradcheck(
        lambda grid, *_: summed_depthwise_conv(grid, 5, convs), (tokens, *weights), eps=1e-6, atol=1e-5
    )


def test_grouped_matches_separate_convs() -> None:
    convs = _convs(8, 4, 4, (1, 7, 5, 3))
    image = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(summed_conv(image, convs), sum(conv(image) for conv in convs))

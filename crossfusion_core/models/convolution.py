"""Sums of 'same'-padded convolutions computed as one convolution, fast on CPU.

CrossFusion adds the outputs of 7x7, 5x5 and 3x3 (and 1x1) convolutions of the same input. A sum of
convolutions is the convolution with the summed (centred, zero-padded) kernels, so one pass does the
work of three or four; the separate layers stay as parameters so checkpoints keep their layout.

PyTorch's CPU backward of depthwise convolutions is slow (seconds per call on a 90 x 90 x 512 map,
most of a training step), so the depthwise case runs on the token layout (H, W, C) as a windowed
product, with a backward that recomputes the windows instead of storing them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def merged_kernel(convs: Sequence[nn.Conv2d]) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the one convolution equal to the sum of ``convs`` (odd, square, same-padded)."""
    size = max(conv.kernel_size[0] for conv in convs)
    weight = sum(F.pad(conv.weight, [(size - conv.kernel_size[0]) // 2] * 4) for conv in convs)
    return weight, sum(conv.bias for conv in convs)


def summed_conv(image: torch.Tensor, convs: Sequence[nn.Conv2d]) -> torch.Tensor:
    """``sum(conv(image) for conv in convs)`` for grouped convs, in the channels-last layout that
    PyTorch's CPU kernels handle fastest (input and weight both channels-last)."""
    weight, bias = merged_kernel(convs)
    channels_last = torch.channels_last
    image = image.contiguous(memory_format=channels_last)
    weight = weight.contiguous(memory_format=channels_last)
    return F.conv2d(image, weight, bias, padding=weight.shape[-1] // 2, groups=convs[0].groups)


def summed_depthwise_conv(tokens: torch.Tensor, side: int, convs: Sequence[nn.Conv2d]) -> torch.Tensor:
    """The depthwise ``sum(conv(image))`` of a (1, side**2, C) bag read row by row as a square image,
    returned in the same token layout."""
    weight, bias = merged_kernel(convs)
    grid = tokens[0].reshape(side, side, tokens.shape[-1])
    out = _DepthwiseCorrelation.apply(grid, weight[:, 0])
    return (out + bias).reshape(1, side * side, -1)


def _windows(grid: torch.Tensor, size: int) -> torch.Tensor:
    """(H, W, C) -> (H, W, C, size, size) zero-padded neighbourhoods (a view, no copy)."""
    radius = size // 2
    return F.pad(grid, (0, 0, radius, radius, radius, radius)).unfold(0, size, 1).unfold(1, size, 1)


def _correlate(grid: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return torch.einsum("yxcij,cij->yxc", _windows(grid, kernel.shape[-1]), kernel)


class _DepthwiseCorrelation(torch.autograd.Function):
    """Per-channel 'same' cross-correlation of an (H, W, C) grid with a (C, k, k) kernel."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, grid: torch.Tensor, kernel: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(grid, kernel)
        return _correlate(grid, kernel)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        grid, kernel = ctx.saved_tensors
        grad_grid = _correlate(grad, kernel.flip(-1, -2))
        grad_kernel = torch.einsum("yxcij,yxc->cij", _windows(grid, kernel.shape[-1]), grad)
        return grad_grid, grad_kernel

"""Sums of 'same'-padded convolutions computed as one convolution, fast on CPU.

CrossFusion adds the outputs of 7x7, 5x5 and 3x3 (and 1x1) convolutions of the same input. A sum of
convolutions is the convolution with the summed (centred, zero-padded) kernels, so one pass does the
work of three or four; the separate layers stay as parameters so checkpoints keep their layout.

PyTorch's CPU backward of depthwise convolutions is slow (seconds per call on a 64 x 64 x 512 map,
once most of a training step), so on the CPU the depthwise case has its own backward built from
forward convolutions; other devices use PyTorch's own (cuDNN's depthwise backward is fast).
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
    image = tokens.transpose(1, 2).unflatten(2, (side, side))
    if image.device.type == "cpu":
        convolved = _DepthwiseConv.apply(image, weight)
    else:
        convolved = F.conv2d(image, weight, padding=weight.shape[-1] // 2, groups=weight.shape[0])
    return (convolved + bias[:, None, None]).flatten(2).transpose(1, 2)


class _DepthwiseConv(torch.autograd.Function):
    """Depthwise 'same' convolution of a (1, C, H, W) image with a (C, 1, k, k) kernel.

    Both gradients are themselves depthwise forward convolutions (the input's with the flipped
    kernel, the kernel's with the output gradient as a per-channel H x W kernel), which PyTorch runs
    some twenty times faster on CPU than its own depthwise backward. ``custom_fwd`` / ``custom_bwd``
    run the backward under the forward's autocast state, so under CPU autocast every convolution here
    casts its operands to the same lower precision (without them a bfloat16 gradient met the float32
    kernel and ``conv2d`` refused the mixed types).
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu")
    def forward(
        ctx: torch.autograd.function.FunctionCtx, image: torch.Tensor, kernel: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(image, kernel)
        return F.conv2d(image, kernel, padding=kernel.shape[-1] // 2, groups=kernel.shape[0])

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image, kernel = ctx.saved_tensors
        radius, channels = kernel.shape[-1] // 2, kernel.shape[0]
        grad_image = F.conv2d(grad, kernel.flip(-1, -2), padding=radius, groups=channels)
        padded = F.pad(image, (radius, radius, radius, radius))
        grad_kernel = F.conv2d(padded, grad.transpose(0, 1), groups=channels).transpose(0, 1)
        return grad_image.to(image.dtype), grad_kernel.to(kernel.dtype)

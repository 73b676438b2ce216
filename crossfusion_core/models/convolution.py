"""Sums of 'same'-padded convolutions computed as one convolution.

CrossFusion adds the outputs of 7x7, 5x5 and 3x3 (and 1x1) convolutions over the same input. A sum of
convolutions is the convolution with the summed (centred, zero-padded) kernels, so one pass does the
work of three or four; the separate layers stay as parameters so checkpoints keep their layout. The
input goes in channels-last layout, where PyTorch's CPU kernels for grouped and depthwise convolutions
(forward and backward) are tens of times faster than in the default layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def summed_conv(image: torch.Tensor, convs: Sequence[nn.Conv2d]) -> torch.Tensor:
    """``sum(conv(image) for conv in convs)`` for stride-1, odd, square, same-padded convs of equal groups."""
    size = max(conv.kernel_size[0] for conv in convs)
    weight = sum(F.pad(conv.weight, [(size - conv.kernel_size[0]) // 2] * 4) for conv in convs)
    bias = sum(conv.bias for conv in convs)
    channels_last = torch.channels_last
    image = image.contiguous(memory_format=channels_last)
    weight = weight.contiguous(memory_format=channels_last)
    return F.conv2d(image, weight, bias, padding=size // 2, groups=convs[0].groups)

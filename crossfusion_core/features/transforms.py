"""Turning uint8 RGB patches into a backbone's input tensor, batched and on the model's device.

Doing this on the device after the transfer (not per patch in the reader processes) moves a quarter of
the bytes (uint8 instead of float32) and lets the GPU do the resizing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from crossfusion_core.features.backbones import InputTransform


class ModelInput:
    """A backbone's input transform, its normalisation constants already on the model's device.

    Built once per slide: a tensor made from Python numbers on every batch would be a synchronous
    host-to-device copy, which makes the host wait for the GPU once per batch.
    """

    def __init__(self, transform: InputTransform, device: torch.device) -> None:
        self.transform = transform
        self.mean = torch.tensor(transform.mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(transform.std, device=device).view(1, 3, 1, 1)

    def __call__(self, patches_rgb: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 square patches -> (N, 3, crop_px, crop_px) float, resized and normalised."""
        transform = self.transform
        x = patches_rgb.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != transform.resize_px or x.shape[-2] != transform.resize_px:
            x = F.interpolate(
                x,
                size=(transform.resize_px, transform.resize_px),
                mode=transform.interpolation,
                antialias=True,
                align_corners=False,
            )
        x = _center_crop(x, transform.crop_px)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)


def to_model_input(patches_rgb: torch.Tensor, transform: InputTransform) -> torch.Tensor:
    """The input of one batch, for a one-off call (tests, benchmarks); loops build a :class:`ModelInput`."""
    return ModelInput(transform, patches_rgb.device)(patches_rgb)


def _center_crop(x: torch.Tensor, crop_px: int) -> torch.Tensor:
    top = (x.shape[-2] - crop_px) // 2
    left = (x.shape[-1] - crop_px) // 2
    return x[..., top : top + crop_px, left : left + crop_px]

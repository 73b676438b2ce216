"""Floors under the spreads of a fold's training data, shared by the feature standardisation and the probe
fit so that a near-zero spread (a constant feature, an axis the data does not span) is handled alike by
both and never turns rounding noise into a large input. For numpy arrays and tensors alike."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

MIN_SPREAD = 1e-6
Array = TypeVar("Array", np.ndarray, torch.Tensor)


def unscaled_if_constant(spread: Array) -> Array:
    """``spread`` with entries below ``MIN_SPREAD`` set to 1 (in place): a constant feature is centred."""
    spread[spread < MIN_SPREAD] = 1.0
    return spread


def whitened_axes(axes: Array, variance: Array) -> Array:
    """Axes (..., D, k) divided by the data's standard deviation along each (``variance`` (..., k), floored
    at ``MIN_SPREAD``): unit variance per component, without blowing up an axis the data does not span."""
    return axes / variance.clip(min=MIN_SPREAD)[..., None, :] ** 0.5

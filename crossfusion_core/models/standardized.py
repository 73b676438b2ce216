"""Patch features standardised per scale with the training patches' statistics, in front of any MIL model.

Why: backbone features share a large component common to every patch of every slide (post-ReLU,
pooled CNN or ViT features are far from zero-mean). On the synthetic demo the mean 10x feature of a
patient differs from the cohort's by about a tenth of its length; a MIL model started from small
weights first has to grow weights that read that tenth, and on a small cohort with a budget of a few
hundred optimiser steps it never leaves the constant predictor (CrossFusion's held-out risks then
differ by 1e-3, and its C-index is noise). Centring and scaling every feature on the training patches,
as the linear probe does with its pooled features, removes that plateau.

Optionally the standardised features are also reduced to their leading whitened principal components
(``n_components`` per scale): with a few dozen patients, a 1,280- or 1,536-dimensional input lets a
model fit noise directions that a handful of components leave out.

The statistics belong to the fold (training patches only, never the held-out ones) and travel in
``model.pt``, so evaluation and heatmaps see the inputs exactly as training did.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

MIN_SPREAD = 1e-6
"""Feature dimensions whose spread over the training patches is below this are centred, not scaled."""


class Standardized(nn.Module):
    """``model(x5, x10, x20)`` on features standardised per scale: ``(x - center[s]) / spread[s]``,
    then, with ``n_components``, projected on ``components[s]`` (backbone_dim x n_components).

    The buffers hold one row per scale (coarsest first); they start as the identity transform (or a
    truncation) and are set by :func:`fit_standardization`. ``model`` takes ``n_components`` features
    when it is set, ``backbone_dim`` otherwise.
    """

    def __init__(self, model: nn.Module, backbone_dim: int, n_components: int = 0) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("center", torch.zeros(3, backbone_dim))
        self.register_buffer("spread", torch.ones(3, backbone_dim))
        if n_components:
            identity = torch.eye(backbone_dim, n_components).expand(3, -1, -1).clone()
            self.register_buffer("components", identity)
        else:
            self.components = None

    def standardised(self, *bags: torch.Tensor) -> tuple[torch.Tensor, ...]:
        scaled = [(bag.float() - self.center[row]) / self.spread[row] for row, bag in enumerate(bags)]
        if self.components is None:
            return tuple(scaled)
        return tuple(bag @ self.components[row] for row, bag in enumerate(scaled))

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor):
        return self.model(*self.standardised(x5, x10, x20))

    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        return self.model.patch_scores(*self.standardised(x5, x10, x20), chunk_size=chunk_size)


@torch.no_grad()
def fit_standardization(model: Standardized, items: Iterable[tuple]) -> None:
    """Set ``model``'s statistics from every patch of ``items`` (dataset items ``(x5, x10, x20, ...)``).

    Sums are accumulated in float64 one bag at a time, so a TCGA-sized fold never holds all its patches
    at once; the D x D cross-products (N x D^2 work per bag) only when components are wanted, the
    squares otherwise.
    """
    width = model.center.shape[1]
    full = model.components is not None
    sums = torch.zeros(3, width, dtype=torch.float64)
    second = torch.zeros((3, width, width) if full else (3, width), dtype=torch.float64)
    counts = torch.zeros(3, 1, dtype=torch.float64)
    for item in items:
        for row, bag in enumerate(item[:3]):
            patches = bag.reshape(-1, width).double()
            sums[row] += patches.sum(dim=0)
            second[row] += patches.T @ patches if full else patches.square().sum(dim=0)
            counts[row] += patches.shape[0]
    center = sums / counts.clamp_min(1)
    if full:
        second = second / counts.clamp_min(1).unsqueeze(-1) - center.unsqueeze(-1) * center.unsqueeze(-2)
        variance = torch.diagonal(second, dim1=-2, dim2=-1)
    else:
        variance = second / counts.clamp_min(1) - center.square()
    spread = variance.clamp_min(0).sqrt()
    spread[spread < MIN_SPREAD] = 1.0
    model.center.copy_(center)
    model.spread.copy_(spread)
    if full:
        correlation = second / (spread.unsqueeze(-1) * spread.unsqueeze(-2))
        model.components.copy_(_whitened_leading_axes(correlation, model.components.shape[-1]))


def _whitened_leading_axes(correlation: torch.Tensor, n_components: int) -> torch.Tensor:
    """(3, D, k): per scale the ``k`` leading eigenvectors, each divided by the root of its eigenvalue
    (unit variance per component on the training patches)."""
    eigenvalues, eigenvectors = torch.linalg.eigh(correlation)
    leading = eigenvalues.flip(-1)[:, :n_components].clamp_min(MIN_SPREAD)
    return eigenvectors.flip(-1)[:, :, :n_components] / leading.sqrt().unsqueeze(-2)

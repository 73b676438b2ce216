"""Patch features standardised per scale with the training patches' statistics, in front of any MIL model.

Why: backbone features share a large component common to every patch of every slide (post-ReLU,
pooled CNN or ViT features are far from zero-mean). On the synthetic demo the mean 10x feature of a
patient differs from the cohort's by about a tenth of its length; a MIL model started from small
weights first has to grow weights that read that tenth, and on a small cohort with a budget of a few
hundred optimiser steps it never leaves the constant predictor (CrossFusion's held-out risks then
differ by 1e-3, and its C-index is noise). Centring and scaling every feature on the training patches,
as the linear probe does with its pooled features, removes that plateau.

Optionally the standardised features are also reduced to ``n_components`` directions per scale: with a
few dozen patients, a 1,280- or 1,536-dimensional input lets a model fit noise directions that a handful
of components leave out. Which directions (``basis``):

- ``patches``: the leading principal axes of the patches themselves. They follow what varies most from
  patch to patch (stroma, glands, background), which need not be what varies between patients: on the
  synthetic demo the nuclear phenotype is not among the 16 leading patch axes, and CrossFusion on them
  ranks at chance.
- ``patients``: the leading principal axes of the patients' mean features, the directions along which
  patients differ, as the linear probe reduces its pooled features. Each axis is scaled to unit variance
  over the training patches, so the model's inputs keep the scale ``patches`` gives them.

The statistics belong to the fold (training patches only, never the held-out ones) and travel in
``model.pt``, so evaluation and heatmaps see the inputs exactly as training did.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from crossfusion_core.models.whitening import unscaled_if_constant, whitened_axes


class Standardized(nn.Module):
    """``model(x5, x10, x20)`` on features standardised per scale: ``(x - center[s]) / spread[s]``,
    then, with ``n_components``, projected on ``components[s]`` (backbone_dim x n_components).

    The buffers hold one row per scale (coarsest first); they start as the identity transform (or a
    truncation) and are set by :func:`fit_standardization`. ``model`` takes ``n_components`` features
    when it is set, ``backbone_dim`` otherwise.
    """

    def __init__(
        self, model: nn.Module, backbone_dim: int, n_components: int = 0, basis: str = "patches"
    ) -> None:
        super().__init__()
        self.model = model
        self.basis = basis
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
def fit_standardization(model: Standardized, items: Sequence[tuple]) -> None:
    """Set ``model``'s statistics from every patch of ``items`` (dataset items ``(x5, x10, x20, ...)``).

    Sums are accumulated in float64 one bag at a time, so a TCGA-sized fold never holds all its patches
    at once; the D x D cross-products (N x D^2 work per bag) only for patch components, the squares
    otherwise. Patient components keep each item's mean (n x D) and read the items a second time for
    the patch variance along the chosen axes.
    """
    width = model.center.shape[1]
    full = model.components is not None and model.basis == "patches"
    sums = torch.zeros(3, width, dtype=torch.float64)
    second = torch.zeros((3, width, width) if full else (3, width), dtype=torch.float64)
    counts = torch.zeros(3, 1, dtype=torch.float64)
    patient_axes = model.components is not None and not full
    item_means = []
    for item in items:
        bags = [bag.reshape(-1, width).double() for bag in item[:3]]
        if patient_axes:
            item_means.append(torch.stack([patches.mean(dim=0) for patches in bags]))
        for row, patches in enumerate(bags):
            sums[row] += patches.sum(dim=0)
            second[row] += patches.T @ patches if full else patches.square().sum(dim=0)
            counts[row] += patches.shape[0]
    center = sums / counts.clamp_min(1)
    if full:
        second = second / counts.clamp_min(1).unsqueeze(-1) - center.unsqueeze(-1) * center.unsqueeze(-2)
        variance = torch.diagonal(second, dim1=-2, dim2=-1)
    else:
        variance = second / counts.clamp_min(1) - center.square()
    spread = unscaled_if_constant(variance.clamp_min(0).sqrt())
    model.center.copy_(center)
    model.spread.copy_(spread)
    if full:
        correlation = second / (spread.unsqueeze(-1) * spread.unsqueeze(-2))
        model.components.copy_(_whitened_leading_axes(correlation, model.components.shape[-1]))
    elif patient_axes:
        standardised_means = (torch.stack(item_means) - center) / spread
        model.components.copy_(_patient_axes(standardised_means, items, center, spread, model.components))


def _patient_axes(
    means: torch.Tensor, items: Sequence[tuple], center: torch.Tensor, spread: torch.Tensor, out: torch.Tensor
) -> torch.Tensor:
    """(3, D, k): per scale the ``k`` leading principal axes of the items' standardised means (n, 3, D),
    each divided by the standard deviation of the training patches along it."""
    k = out.shape[-1]
    leading = []
    for row in range(3):
        _, _, right = torch.linalg.svd(means[:, row] - means[:, row].mean(dim=0), full_matrices=False)
        leading.append(_padded(right[:k].T, k))
    axes = torch.stack(leading)
    moments = torch.zeros(2, 3, k, dtype=torch.float64)
    counts = torch.zeros(3, 1, dtype=torch.float64)
    for item in items:
        for row, bag in enumerate(item[:3]):
            projected = ((bag.reshape(-1, center.shape[1]).double() - center[row]) / spread[row]) @ axes[row]
            moments[0, row] += projected.sum(dim=0)
            moments[1, row] += projected.square().sum(dim=0)
            counts[row] += projected.shape[0]
    mean = moments[0] / counts.clamp_min(1)
    return whitened_axes(axes, moments[1] / counts.clamp_min(1) - mean.square()).to(out.dtype)


def _padded(axes: torch.Tensor, k: int) -> torch.Tensor:
    """Axes (D, j) with zero columns up to k: fewer training patients than components leave some out."""
    return torch.nn.functional.pad(axes, (0, k - axes.shape[1]))


def _whitened_leading_axes(correlation: torch.Tensor, n_components: int) -> torch.Tensor:
    """(3, D, k): per scale the ``k`` leading eigenvectors, each divided by the root of its eigenvalue
    (unit variance per component on the training patches)."""
    eigenvalues, eigenvectors = torch.linalg.eigh(correlation)
    return whitened_axes(eigenvectors.flip(-1)[:, :, :n_components], eigenvalues.flip(-1)[:, :n_components])

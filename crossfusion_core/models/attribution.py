"""Per-patch risk attribution: how much each patch moves a model's predicted risk, with its sign.

Why: an attention map shows what a model reads, not which way it reads it. On the synthetic cohort a
CrossFusion that ranks patients by the planted nuclear phenotype puts its least 20x attention on the
nuclear regions (top-decile lift 0.05: it reads them by their absence), so an attention heatmap cannot
tell a pathologist where risk comes from. Gradient x input can: each patch's features, relative to the
training cohort's mean patch (the standardised origin), times the gradient of the risk with respect to
them, summed over features. For the linear probe this is exactly its own patch score (its risk is linear
in the mean of the patches), so one definition serves every model; for a model trained on raw features
the origin is the zero vector.
"""

from __future__ import annotations

import torch
from torch import nn

from crossfusion_core.models.bags import as_bag
from crossfusion_core.models.standardized import Standardized
from crossfusion_core.scales import SCALE_GROUPS


def risk_attribution(
    model: nn.Module, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor
) -> dict[str, torch.Tensor | None]:
    """``{"x5": (N5,), "x10": (N10,), "x20": (N20,)}`` gradient x input of the risk per patch, in eval
    mode; None for a scale the model does not read (no gradient reaches it)."""
    model.eval()
    inner, bags = (
        (model.model, model.standardised(x5, x10, x20))
        if isinstance(model, Standardized)
        else (model, (x5, x10, x20))
    )
    inputs = [as_bag(bag).detach().float().requires_grad_(True) for bag in bags]
    with torch.enable_grad():
        risk = inner(*inputs).risk.sum()
        gradients = torch.autograd.grad(risk, inputs, allow_unused=True)
    return {
        group: None if gradient is None else (gradient * bag).sum(dim=-1).reshape(-1).detach()
        for group, bag, gradient in zip(SCALE_GROUPS, inputs, gradients, strict=True)
    }

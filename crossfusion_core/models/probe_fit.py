"""Closed-form fitting of the linear probe (``models.linear_probe``) on a fold's training patients.

Standardisation and the per-block whitened PCA come from the training patients only; the Cox head is
scikit-survival's elastic-net Cox model with its Breslow baseline, whose cumulative hazard is cut into the
fold's time bins so that the probe writes the same hazards as every other model; the discrete-time head
minimises the same NLL loss as the MIL models, plus an L2 penalty, by L-BFGS (convex in the head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.losses import nll_survival_loss
from crossfusion_core.models.whitening import unscaled_if_constant, whitened_axes

if TYPE_CHECKING:
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    from crossfusion_core.models.linear_probe import LinearProbe


@dataclass(frozen=True)
class ProbeTargets:
    """Labels of the training patients, in the order of their pooled rows, and the fold's time bins."""

    survival_months: np.ndarray
    censorship: np.ndarray
    label_bin: np.ndarray
    bin_edges: np.ndarray
    alpha: float


@torch.no_grad()
def fit_linear_probe(model: LinearProbe, pooled: torch.Tensor, targets: ProbeTargets) -> None:
    """Set every buffer and the head of ``model`` from the training patients' pooled features (n, F)."""
    features = pooled.double().cpu().numpy()
    center = features.mean(axis=0)
    spread = unscaled_if_constant(features.std(axis=0))
    standardised = (features - center) / spread
    components = _block_principal_axes(standardised, model.n_blocks, model.components.shape[1])
    model.center.copy_(torch.from_numpy(center))
    model.spread.copy_(torch.from_numpy(spread))
    model.components.copy_(torch.from_numpy(components))
    reduced = standardised @ components
    if model.head_kind == "cox":
        _fit_cox(model, reduced, targets)
    else:
        _fit_discrete(model, reduced, targets)


def _block_principal_axes(standardised: np.ndarray, n_blocks: int, n_reduced: int) -> np.ndarray:
    """Block-diagonal projection: each block's whitened principal axes (unit variance per component on
    the training patients), so that the head's penalty weighs every component alike."""
    n_patients, n_features = standardised.shape
    if n_reduced == n_features:
        return np.eye(n_features)
    width, per_block = n_features // n_blocks, n_reduced // n_blocks
    if per_block > min(n_patients - 1, width):
        raise PipelineInputError(
            None,
            f"linear_probe: n_components={per_block} exceeds the {min(n_patients - 1, width)} components "
            f"that {n_patients} training patients with {width} features per block allow",
            "lower training.model_options.linear_probe.n_components",
        )
    axes = np.zeros((n_features, n_reduced))
    for block in range(n_blocks):
        rows = slice(block * width, (block + 1) * width)
        columns = slice(block * per_block, (block + 1) * per_block)
        pca = PCA(n_components=per_block, svd_solver="full").fit(standardised[:, rows])
        axes[rows, columns] = whitened_axes(pca.components_.T, pca.explained_variance_)
    return axes


def _fit_cox(model: LinearProbe, reduced: np.ndarray, targets: ProbeTargets) -> None:
    """scikit-survival is imported here: only the Cox head needs it (the GPU smoke test trains without)."""
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    outcome = Surv.from_arrays(event=targets.censorship == 0, time=targets.survival_months)
    cox = CoxnetSurvivalAnalysis(alphas=[model.penalty], l1_ratio=model.l1_ratio, fit_baseline_model=True)
    cox.fit(reduced, outcome)
    model.head.weight.copy_(torch.from_numpy(cox.coef_[:, 0]).view(1, -1))
    model.head.bias.zero_()
    model.bin_baseline_hazard.copy_(torch.from_numpy(_binned_baseline(cox, reduced, targets.bin_edges)))


def _binned_baseline(cox: CoxnetSurvivalAnalysis, reduced: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """Increments of the Breslow cumulative baseline hazard over each time bin.

    scikit-survival gives each patient's cumulative hazard as ``H0(t) exp(lp)``; dividing one patient's
    function by its ``exp(lp)`` leaves the baseline, read at the bin edges (clipped to its domain).
    """
    function = cox.predict_cumulative_hazard_function(reduced[:1])[0]
    low, high = function.domain
    edges = np.clip(np.asarray(bin_edges, float), low, high)
    baseline = function(edges) / np.exp(cox.predict(reduced[:1])[0])
    return np.diff(baseline).clip(min=0.0)


def discrete_fit_tensors(
    model: LinearProbe, reduced: np.ndarray, targets: ProbeTargets
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, label bins, censorship) of the discrete head's fit, on the device of its weights: the
    fit runs where the model lives (a CUDA model is fitted on the GPU, not fed host tensors)."""
    device = model.head.weight.device
    return (
        torch.as_tensor(reduced, dtype=torch.float32, device=device),
        torch.as_tensor(targets.label_bin, dtype=torch.long, device=device),
        torch.as_tensor(targets.censorship, dtype=torch.float32, device=device),
    )


def _fit_discrete(model: LinearProbe, reduced: np.ndarray, targets: ProbeTargets) -> None:
    inputs, label_bin, censorship = discrete_fit_tensors(model, reduced, targets)
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)
    optimizer = torch.optim.LBFGS(model.head.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nll_survival_loss(model.head(inputs), label_bin, censorship, targets.alpha)
        loss = loss + 0.5 * model.penalty * model.head.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)

"""One training epoch and one evaluation pass over bags, one item (patient or slide) at a time.

Bags differ in size, so every forward pass sees one item; an optimiser step is taken per window of
``grad_accumulation`` items (the last window of an epoch may be shorter). With the NLL loss each bag's
loss is back-propagated at once, divided by its window's size; with the Cox loss the risks of a window
are kept, with their graphs, and the partial likelihood of the window is back-propagated when the
window is full, so a window is the Cox risk set (memory grows with the window, not the epoch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from crossfusion_core.data.bags import SurvivalBagDataset
from crossfusion_core.devices import Compute, CudaState, resolve_compute
from crossfusion_core.models.losses import cox_partial_likelihood_loss, nll_survival_loss
from crossfusion_core.models.outputs import SurvivalOutput
from crossfusion_core.training.settings import FoldTrainingSettings

TIED_TOL = 1e-8


def training_compute(settings: FoldTrainingSettings, state: CudaState | None = None) -> Compute:
    """``training.device`` and ``training.precision`` resolved (see :mod:`crossfusion_core.devices`):
    ``auto`` precision is bf16 on CUDA, where it halves memory and time, and fp32 on the CPU, for exact
    reruns (bf16 there runs the GPU's path). ``state`` shows how another machine would resolve."""
    return resolve_compute("training", settings.device, settings.precision, "bf16", state)


def concordance(survival_months: np.ndarray, censorship: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C-index by scikit-survival; NaN when no pair is comparable (e.g. no death observed).

    Imported here, not at the top: only epoch selection needs a C-index during training, so a fold
    trained with ``selection: final`` runs where scikit-survival is not installed (the GPU smoke test's
    bare PyTorch stack).
    """
    from crossfusion_core.evaluation.survival_metrics import harrell_cindex

    events = np.asarray(censorship) == 0
    if len(events) < 2 or not events.any():
        return math.nan
    try:
        return harrell_cindex(events, np.asarray(survival_months, dtype=float), risk, TIED_TOL)
    except ZeroDivisionError:
        return math.nan


def _forward(model: nn.Module, item: tuple, compute: Compute) -> SurvivalOutput:
    x5, x10, x20 = (x.to(compute.device, non_blocking=True) for x in item[:3])
    with compute.autocast():
        return model(x5, x10, x20)


def _targets(
    labels: Sequence[tuple], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(label_bin, survival_months, censorship) tensors from ``item[3:6]`` of dataset items."""
    return tuple(torch.tensor(column, device=device) for column in zip(*labels, strict=True))


def windows(order: np.ndarray, size: int) -> list[np.ndarray]:
    """``order`` cut into consecutive optimiser-step windows of ``size`` items (the last may be short)."""
    return [order[start : start + size] for start in range(0, len(order), size)]


@dataclass(frozen=True)
class LossSettings:
    """Which loss, and the NLL's weight on observed deaths."""

    kind: str
    alpha: float

    def __call__(
        self,
        outputs: Sequence[SurvivalOutput],
        labels: Sequence[tuple],
        device: torch.device,
        alpha: float | None = None,
    ) -> torch.Tensor:
        """Mean loss of ``outputs`` against ``labels`` (``item[3:6]``); ``alpha`` overrides the NLL's."""
        label_bin, months, censorship = _targets(labels, device)
        if self.kind == "cox":
            risk = torch.cat([out.risk.reshape(-1) for out in outputs])
            return cox_partial_likelihood_loss(risk, months, censorship)
        logits = torch.cat([out.logits.reshape(1, -1) for out in outputs])
        return nll_survival_loss(logits, label_bin, censorship, self.alpha if alpha is None else alpha)


def train_epoch(
    model: nn.Module,
    dataset: SurvivalBagDataset,
    windows: Sequence[np.ndarray],
    optimizer: torch.optim.Optimizer,
    loss: LossSettings,
    compute: Compute,
    after_step: Callable[[], None] = lambda: None,
    *,
    patch_limit: int | None = None,
) -> float:
    """One optimiser step per window of item indices; returns the mean training loss per item visited.

    ``after_step`` runs after every optimiser step (a per-step learning-rate schedule); ``patch_limit``
    (``training.max_train_patches``) caps every bag of an item at that many patches per scale, drawn
    afresh each time (see :func:`subsampled`).
    """
    model.train()
    total, visited = 0.0, 0
    for window in windows:
        optimizer.zero_grad(set_to_none=True)
        if loss.kind == "cox":
            items = [subsampled(dataset[int(i)], patch_limit) for i in window]
            outputs = [_forward(model, item, compute) for item in items]
            window_loss = loss(outputs, [item[3:6] for item in items], compute.device)
            window_loss.backward()
            total += window_loss.item() * len(window)
        else:
            for index in window:
                item = subsampled(dataset[int(index)], patch_limit)
                bag_loss = loss([_forward(model, item, compute)], [item[3:6]], compute.device)
                (bag_loss / len(window)).backward()
                total += bag_loss.item()
        optimizer.step()
        after_step()
        visited += len(window)
    return total / max(visited, 1)


def subsampled(item: tuple, patch_limit: int | None) -> tuple:
    """The item with each of its three bags cut to at most ``patch_limit`` random patches (in their
    original order, which the Pad-Transformers' convolutions read as a layout); unchanged for None.

    Why: a bag seen with a different subset of its patches at every step cannot be memorised as a
    whole, the way a small cohort's few bags otherwise are; it also bounds the cost of a step on
    TCGA-sized bags. Draws come from torch's global generator, which training seeds per epoch.
    """
    if patch_limit is None:
        return item
    bags = tuple(
        bag[torch.randperm(len(bag))[:patch_limit].sort().values] if len(bag) > patch_limit else bag
        for bag in item[:3]
    )
    return (*bags, *item[3:])


@dataclass(frozen=True)
class Evaluation:
    """Predictions of a model on a set of patients, in dataset order, with their loss and C-index."""

    loss: float
    cindex: float
    risk: np.ndarray
    hazards: np.ndarray


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: SurvivalBagDataset,
    loss: LossSettings,
    compute: Compute,
    *,
    with_cindex: bool = True,
) -> Evaluation:
    """Score every patient once in eval mode; the NLL is unweighted here (alpha = 0), as in the original.

    ``with_cindex``: False leaves the C-index NaN, for predictions the evaluation stage scores anyway.
    """
    model.eval()
    outputs, labels = [], []
    for index in range(len(dataset)):
        item = dataset[index]
        outputs.append(_forward(model, item, compute))
        labels.append(item[3:6])
    value = loss(outputs, labels, compute.device, alpha=0.0).item()
    risk = np.array([out.risk.float().item() for out in outputs])
    hazards = np.stack([out.hazards.float().reshape(-1).cpu().numpy() for out in outputs])
    _, months, censorship = (np.array(column) for column in zip(*labels, strict=True))
    cindex = concordance(months, censorship, risk) if with_cindex else math.nan
    return Evaluation(value, cindex, risk, hazards)

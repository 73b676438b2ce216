"""One training epoch and one evaluation pass over bags, one item (patient or slide) at a time.

Bags differ in size, so every forward pass sees one item; an optimiser step is taken per window of
``grad_accumulation`` items (the last window of an epoch may be shorter). With the NLL loss each bag's
loss is back-propagated at once, divided by its window's size; with the Cox loss the risks of a window
are kept, with their graphs, and the partial likelihood of the window is back-propagated when the
window is full, so a window is the Cox risk set (memory grows with the window, not the epoch).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from crossfusion_core import devices
from crossfusion_core.data.bags import SurvivalBagDataset
from crossfusion_core.models.outputs import SurvivalOutput
from crossfusion_core.training.losses import cox_partial_likelihood_loss, nll_survival_loss

TIED_TOL = 1e-8


def resolve_device(name: str) -> torch.device:
    """``training.device``: ``auto`` is CUDA when this process can use it, else the CPU, with a warning
    naming the reason when a GPU is present but unusable (see :mod:`crossfusion_core.devices`)."""
    return devices.resolve_device(name, "training.device")


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """bfloat16 for ``bf16``, None (no autocast) for ``fp32``; ``auto`` is bf16 on CUDA, where it
    halves memory and time, and fp32 on the CPU, for exact reruns (bf16 there runs the GPU's path)."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of ``training.precision`` on ``device``."""
    dtype = autocast_dtype(device, precision)
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


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


def _forward(model: nn.Module, item: tuple, device: torch.device, precision: str) -> SurvivalOutput:
    x5, x10, x20 = (x.to(device, non_blocking=True) for x in item[:3])
    with autocast(device, precision):
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
    device: torch.device,
    after_step: Callable[[], None] = lambda: None,
    *,
    precision: str,
    patch_limit: int | None = None,
) -> float:
    """One optimiser step per window of item indices; returns the mean training loss per item visited.

    ``after_step`` runs after every optimiser step (a per-step learning-rate schedule); ``precision``
    is ``training.precision`` (see ``autocast``); ``patch_limit`` (``training.max_train_patches``)
    caps every bag of an item at that many patches per scale, drawn afresh each time (see
    :func:`subsampled`).
    """
    model.train()
    total, visited = 0.0, 0
    for window in windows:
        optimizer.zero_grad(set_to_none=True)
        if loss.kind == "cox":
            items = [subsampled(dataset[int(i)], patch_limit) for i in window]
            outputs = [_forward(model, item, device, precision) for item in items]
            window_loss = loss(outputs, [item[3:6] for item in items], device)
            window_loss.backward()
            total += window_loss.item() * len(window)
        else:
            for index in window:
                item = subsampled(dataset[int(index)], patch_limit)
                bag_loss = loss([_forward(model, item, device, precision)], [item[3:6]], device)
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
    device: torch.device,
    *,
    precision: str,
    with_cindex: bool = True,
) -> Evaluation:
    """Score every patient once in eval mode; the NLL is unweighted here (alpha = 0), as in the original.

    ``with_cindex``: False leaves the C-index NaN, for predictions the evaluation stage scores anyway.
    """
    model.eval()
    outputs, labels = [], []
    for index in range(len(dataset)):
        item = dataset[index]
        outputs.append(_forward(model, item, device, precision))
        labels.append(item[3:6])
    value = loss(outputs, labels, device, alpha=0.0).item()
    risk = np.array([out.risk.float().item() for out in outputs])
    hazards = np.stack([out.hazards.float().reshape(-1).cpu().numpy() for out in outputs])
    _, months, censorship = (np.array(column) for column in zip(*labels, strict=True))
    cindex = concordance(months, censorship, risk) if with_cindex else math.nan
    return Evaluation(value, cindex, risk, hazards)

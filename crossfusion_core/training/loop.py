"""One training epoch and one evaluation pass over bags, one patient at a time.

Bags differ in size, so every forward pass sees one patient; an optimiser step is taken every
``grad_accumulation`` patients (and once more for the remainder of the epoch). With the NLL loss each
bag's loss is back-propagated at once, divided by its window's size; with the Cox loss the risks of a
window are kept, with their graphs, and the partial likelihood of the window is back-propagated when the
window is full, so a window is the Cox risk set (memory grows with the window, not the epoch).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sksurv.metrics import concordance_index_censored
from torch import nn

from crossfusion_core.data.bags import SurvivalBagDataset
from crossfusion_core.models.outputs import SurvivalOutput
from crossfusion_core.training.losses import cox_partial_likelihood_loss, nll_survival_loss

TIED_TOL = 1e-8


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when there is one, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, where it halves memory and time; plain fp32 on CPU for exact reruns."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def concordance(survival_months: np.ndarray, censorship: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C-index by scikit-survival; NaN when no pair is comparable (e.g. no death observed)."""
    events = np.asarray(censorship) == 0
    if len(events) < 2 or not events.any():
        return math.nan
    try:
        return float(
            concordance_index_censored(
                events, np.asarray(survival_months, dtype=float), risk, tied_tol=TIED_TOL
            )[0]
        )
    except ZeroDivisionError:
        return math.nan


def _forward(model: nn.Module, item: tuple, device: torch.device) -> SurvivalOutput:
    x5, x10, x20 = (x.to(device, non_blocking=True) for x in item[:3])
    with autocast(device):
        return model(x5, x10, x20)


def _targets(
    labels: Sequence[tuple], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(label_bin, survival_months, censorship) tensors from ``item[3:6]`` of dataset items."""
    return tuple(torch.tensor(column, device=device) for column in zip(*labels, strict=True))


def _windows(order: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), size):
        yield order[start : start + size]


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
    order: np.ndarray,
    optimizer: torch.optim.Optimizer,
    loss: LossSettings,
    grad_accumulation: int,
    device: torch.device,
) -> float:
    """Visit ``order`` once; returns the mean training loss per patient."""
    model.train()
    total = 0.0
    for window in _windows(order, grad_accumulation):
        optimizer.zero_grad(set_to_none=True)
        if loss.kind == "cox":
            items = [dataset[int(i)] for i in window]
            outputs = [_forward(model, item, device) for item in items]
            window_loss = loss(outputs, [item[3:6] for item in items], device)
            window_loss.backward()
            total += window_loss.item() * len(window)
        else:
            for index in window:
                item = dataset[int(index)]
                bag_loss = loss([_forward(model, item, device)], [item[3:6]], device)
                (bag_loss / len(window)).backward()
                total += bag_loss.item()
        optimizer.step()
    return total / len(order)


@dataclass(frozen=True)
class Evaluation:
    """Predictions of a model on a set of patients, in dataset order, with their loss and C-index."""

    loss: float
    cindex: float
    risk: np.ndarray
    hazards: np.ndarray


@torch.no_grad()
def evaluate(
    model: nn.Module, dataset: SurvivalBagDataset, loss: LossSettings, device: torch.device
) -> Evaluation:
    """Score every patient once in eval mode; the NLL is unweighted here (alpha = 0), as in the original."""
    model.eval()
    outputs, labels = [], []
    for index in range(len(dataset)):
        item = dataset[index]
        outputs.append(_forward(model, item, device))
        labels.append(item[3:6])
    value = loss(outputs, labels, device, alpha=0.0).item()
    risk = np.array([out.risk.float().item() for out in outputs])
    hazards = np.stack([out.hazards.float().reshape(-1).cpu().numpy() for out in outputs])
    _, months, censorship = (np.array(column) for column in zip(*labels, strict=True))
    return Evaluation(value, concordance(months, censorship, risk), risk, hazards)

"""How long a fold trains, in optimiser steps, and the learning rate along the way.

A budget in epochs means a different amount of optimisation for every cohort size: with 32 patients per
step, 25 training patients make one optimiser step per epoch, and 12 epochs are 12 steps, too few to
learn anything. So a fold's length is its number of optimiser steps (``training.steps``), or, to
reproduce the original study, a number of epochs; either way the budget below says both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from crossfusion_core.training.settings import FoldTrainingSettings


@dataclass(frozen=True)
class Budget:
    """``window`` items per optimiser step, ``steps_per_epoch`` steps in a full epoch, and the run's
    ``epochs`` and ``total_steps`` (the last epoch may stop after fewer steps when counting steps)."""

    window: int
    steps_per_epoch: int
    epochs: int
    total_steps: int

    def epoch_windows(self, windows: list[np.ndarray], steps_done: int) -> list[np.ndarray]:
        """An epoch's windows, cut where the run reaches ``total_steps``."""
        return windows[: max(0, self.total_steps - steps_done)]


def training_budget(settings: FoldTrainingSettings, n_items: int) -> Budget:
    """The budget of a fold with ``n_items`` training items (``grad_accumulation`` capped at that)."""
    window = max(1, min(settings.grad_accumulation, n_items))
    steps_per_epoch = math.ceil(n_items / window)
    if settings.steps is not None:
        return Budget(window, steps_per_epoch, math.ceil(settings.steps / steps_per_epoch), settings.steps)
    return Budget(window, steps_per_epoch, settings.epochs, settings.epochs * steps_per_epoch)


@dataclass
class LearningRateSchedule:
    """The cosine schedule and whether it advances per optimiser step (True) or per epoch (False)."""

    scheduler: torch.optim.lr_scheduler.LRScheduler
    per_step: bool

    def after_step(self) -> None:
        if self.per_step:
            self.scheduler.step()

    def after_epoch(self) -> None:
        if not self.per_step:
            self.scheduler.step()


def learning_rate_schedule(
    optimizer: torch.optim.Optimizer, settings: FoldTrainingSettings, budget: Budget
) -> LearningRateSchedule:
    """One cosine from ``lr`` to ``eta_min`` over the run, or the original's periodic per-epoch cosine."""
    if settings.cosine_period_epochs is None:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=budget.total_steps, eta_min=settings.eta_min
        )
        return LearningRateSchedule(scheduler, per_step=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=settings.cosine_period_epochs, eta_min=settings.eta_min
    )
    return LearningRateSchedule(scheduler, per_step=False)

"""Train one model on one cross-validation fold and write its checkpoint, predictions and logs.

Outputs in ``out_dir``: ``model.pt``, ``predictions.csv`` (held-out patients), ``training_risks.csv``
(the fold's training patients, scored by the same model: the reference for risk groups), ``epochs.csv``.
Which items are fitted, which select and how bins are cut is ``fold_data``'s business; how long training
runs and at which learning rate, ``schedule``'s. Every model goes through the same path; one with a
closed-form fit (``models.interface.ClosedFormModel``: the linear probe) is fitted in one pass instead of
by epochs, and its ``epochs.csv`` has no rows.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from crossfusion_core.data.splits import FoldSplit, read_fold_split
from crossfusion_core.devices import Compute
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models import registry
from crossfusion_core.models.checkpoint import save_checkpoint
from crossfusion_core.models.ensemble import SeedEnsemble
from crossfusion_core.models.interface import ClosedFormModel
from crossfusion_core.models.options import ModelOptions
from crossfusion_core.models.standardized import Standardized, fit_standardization
from crossfusion_core.training.fold_data import FoldData, fold_data
from crossfusion_core.training.loop import (
    Evaluation,
    LossSettings,
    evaluate,
    train_epoch,
    training_compute,
    windows,
)
from crossfusion_core.training.outputs import prediction_table, write_fold_outputs
from crossfusion_core.training.resume import ResumeState, fingerprint
from crossfusion_core.training.sampling import epoch_order
from crossfusion_core.training.schedule import Budget, learning_rate_schedule, training_budget
from crossfusion_core.training.settings import FoldTrainingSettings

LOGGER = logging.getLogger(__name__)
MEMBER_PREFIX = ".member_"
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
"""``adam`` adds ``weight_decay`` to the gradient, where Adam's per-weight scaling all but cancels it (the
original's choice); ``adamw`` decays the weights themselves, a real pull towards zero."""


def train_fold(
    settings: FoldTrainingSettings,
    model_name: str,
    model_options: ModelOptions | Mapping[str, Any],
    survival_csv: Path,
    split_csv: Path,
    feature_dirs: Mapping[int, Path],
    out_dir: Path,
    *,
    fold: int | None = None,
    threads: int | None = None,
    backbone: str | None = None,
) -> None:
    """Train ``model_name`` on the fold of ``split_csv`` and write its outputs into ``out_dir``.

    ``feature_dirs`` maps 5, 10 and 20 to the folders of per-slide feature h5 files. ``fold`` defaults to
    the ``k`` of ``splits_{k}.csv``; ``threads`` to the CPUs this process may use; ``backbone`` names the
    features' backbone in the checkpoint. A run killed after some epochs resumes from
    ``out_dir/.resume.pt`` when called again with the same inputs.
    """
    fold = _fold_number(split_csv) if fold is None else fold
    split = read_fold_split(split_csv)
    train_on_split(
        settings,
        model_name,
        model_options,
        survival_csv,
        split,
        Path(split_csv),
        feature_dirs,
        out_dir,
        fold=fold,
        threads=threads,
        backbone=backbone,
    )


def train_on_split(
    settings: FoldTrainingSettings,
    model_name: str,
    model_options: ModelOptions | Mapping[str, Any],
    survival_csv: Path,
    split: FoldSplit,
    split_source: Path,
    feature_dirs: Mapping[int, Path],
    out_dir: Path,
    *,
    fold: int,
    threads: int | None = None,
    backbone: str | None = None,
) -> None:
    """:func:`train_fold` on a split given in memory (``split_source`` names it in messages).

    A split without held-out patients trains the final model on every patient
    (:mod:`crossfusion_core.deploy.final_model`): it writes no ``predictions.csv``.
    """
    out_dir = Path(out_dir)
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    compute = training_compute(settings)
    data = fold_data(settings, Path(survival_csv), Path(split_source), split, feature_dirs)
    checked_options = registry.model_options(model_name, model_options).model_dump()
    run_id = fingerprint(
        [_fingerprint_settings(settings), model_name, checked_options, split, data.bin_edges.tolist()]
    )
    loss = LossSettings(settings.loss, settings.alpha)
    with _deterministic():
        model, state = _trained_model(settings, model_name, checked_options, data, compute, out_dir, run_id)
        held_out = (
            prediction_table(
                data.held_out,
                evaluate(model, data.held_out, loss, compute, with_cindex=False),
                fold,
                settings.repeat_of(fold),
            )
            if len(data.held_out)
            else None
        )
        training = pd.concat(
            [
                prediction_table(part, evaluate(model, part, loss, compute, with_cindex=False), fold)
                for part in (data.fit, data.inner)
                if len(part)
            ]
        )
    write_fold_outputs(out_dir, held_out, training, state.history)
    _write_checkpoint(
        out_dir / "model.pt", model, model_name, checked_options, data, state, settings, backbone
    )
    ResumeState.remove(out_dir)
    for member_dir in out_dir.glob(f"{MEMBER_PREFIX}*"):
        shutil.rmtree(member_dir)


def _fold_number(split_csv: Path) -> int:
    match = re.fullmatch(r"splits_(\d+)", Path(split_csv).stem)
    if match is None:
        raise PipelineInputError(
            split_csv, "cannot tell the fold from the file name", "name it splits_{k}.csv"
        )
    return int(match.group(1))


def _fingerprint_settings(settings: FoldTrainingSettings) -> dict[str, Any]:
    """Settings that change results; ``device`` and the cache size do not."""
    return settings.fold_settings.model_dump(exclude={"device", "feature_cache_mb"})


@contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels, strictly: a fold trained twice gives the same model, or stops saying why.

    Strict, not ``warn_only``: PyTorch runs the deterministic backward of flash and memory-efficient
    attention only when determinism is strict (merely warned, it keeps their faster, non-deterministic
    one), and an operation that has no deterministic implementation on the device raises. That error
    is turned into one that names the operation and the way out, instead of a fold whose numbers
    change from run to run unnoticed.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    try:
        yield
    except RuntimeError as error:
        if "does not have a deterministic implementation" not in str(error):
            raise
        raise PipelineInputError(
            None,
            f"training cannot be deterministic here: {str(error).split(', but you set')[0]}",
            "train this model on the CPU (training.device: cpu), where every operation it uses is "
            "deterministic",
        ) from error
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _new_model(
    settings: FoldTrainingSettings,
    name: str,
    options: Mapping[str, Any],
    data: FoldData,
    compute: Compute,
) -> torch.nn.Module:
    """The freshly initialised model, behind the fold's feature standardisation when it is trained by
    gradient steps and ``standardize_features`` is on (a closed-form model standardises its own inputs)."""
    torch.manual_seed(settings.seed)
    if not settings.standardize_features or issubclass(registry.model_type(name), ClosedFormModel):
        return registry.build_model(name, data.backbone_dim, settings.n_bins, options).to(compute.device)
    width = settings.input_components or data.backbone_dim
    model = Standardized(
        registry.build_model(name, width, settings.n_bins, options),
        data.backbone_dim,
        settings.input_components,
        settings.input_basis,
    )
    fit_standardization(model, data.fit)
    return model.to(compute.device)


def _trained_model(
    settings: FoldTrainingSettings,
    name: str,
    options: Mapping[str, Any],
    data: FoldData,
    compute: Compute,
    out_dir: Path,
    run_id: str,
) -> tuple[torch.nn.Module, ResumeState]:
    """The trained model: one, or ``settings.ensemble`` members trained from seeds ``seed``, ``seed + 1``,
    ... and joined (``models.ensemble``). Each member resumes from its own hidden folder
    (``.member_{i}/``), so a killed fold keeps its finished members. A closed-form model is fitted once:
    its fit does not depend on the seed, so members would be copies."""
    if settings.ensemble == 1 or issubclass(registry.model_type(name), ClosedFormModel):
        model = _new_model(settings, name, options, data, compute)
        return model, _train(settings, model, data, compute, out_dir, run_id)
    members, states = [], []
    for index in range(settings.ensemble):
        member_settings = settings.model_copy(update={"seed": settings.seed + index})
        member = _new_model(member_settings, name, options, data, compute)
        member_dir = out_dir / f"{MEMBER_PREFIX}{index}"
        states.append(
            _run_epochs(member_settings, member, data, compute, member_dir, fingerprint([run_id, index]))
        )
        members.append(member)
        LOGGER.info("ensemble member %d of %d trained", index + 1, settings.ensemble)
    return joined_members(members), _mean_history(states)


def joined_members(members: list[torch.nn.Module]) -> torch.nn.Module:
    """Trained members as one :class:`SeedEnsemble`, behind their (shared) feature standardisation."""
    if not isinstance(members[0], Standardized):
        return SeedEnsemble(members)
    first = members[0]
    width = 0 if first.components is None else first.components.shape[-1]
    joined = Standardized(SeedEnsemble([m.model for m in members]), first.center.shape[1], width, first.basis)
    with torch.no_grad():
        for name, statistic in joined.named_buffers(recurse=False):
            statistic.copy_(getattr(first, name))
    return joined


def _mean_history(states: list[ResumeState]) -> ResumeState:
    """The first member's state with each epoch's numbers averaged over the members that ran it."""
    rows = pd.DataFrame([row for state in states for row in state.history])
    states[0].history = rows.groupby("epoch", as_index=False).mean().to_dict("records")
    return states[0]


def _train(
    settings: FoldTrainingSettings,
    model: torch.nn.Module,
    data: FoldData,
    compute: Compute,
    out_dir: Path,
    run_id: str,
) -> ResumeState:
    """Train ``model`` on the fit items: by epochs, or by its own ``fit`` in one pass when it has a closed
    form (its state then records no epoch, as it ran none, and there is nothing to resume)."""
    if not isinstance(model, ClosedFormModel):
        return _run_epochs(settings, model, data, compute, out_dir, run_id)
    model.fit(data.fit, data.bin_edges, settings.alpha)
    LOGGER.info("fitted in closed form on %d training items", len(data.fit))
    return ResumeState(run_id)


def _run_epochs(
    settings: FoldTrainingSettings,
    model: torch.nn.Module,
    data: FoldData,
    compute: Compute,
    out_dir: Path,
    run_id: str,
) -> ResumeState:
    """Train for the budget (or until early stopping) and leave the kept weights in ``model``."""
    budget = training_budget(settings, len(data.fit))
    LOGGER.info(
        "%d training items, %d per optimiser step: %d steps over %d epochs",
        len(data.fit),
        budget.window,
        budget.total_steps,
        budget.epochs,
    )
    optimizer = OPTIMIZERS[settings.optimizer](
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    schedule = learning_rate_schedule(optimizer, settings, budget)
    state = ResumeState.load_or_new(out_dir, run_id)
    if state.model is not None:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        schedule.scheduler.load_state_dict(state.scheduler)
    loss = LossSettings(settings.loss, settings.alpha)
    strata = np.array([2 * bag.label_bin + bag.censorship for bag in data.fit.bags])
    while state.steps_done < budget.total_steps and not _should_stop(state, settings):
        epoch = state.epochs_done
        torch.manual_seed(settings.seed + 1 + epoch)
        lr = optimizer.param_groups[0]["lr"]
        order = epoch_order(strata, settings.sampling, settings.seed, epoch)
        steps = budget.epoch_windows(windows(order, budget.window), state.steps_done)
        train_loss = train_epoch(
            model,
            data.fit,
            steps,
            optimizer,
            loss,
            compute,
            schedule.after_step,
            patch_limit=settings.max_train_patches,
        )
        schedule.after_epoch()
        state.steps_done += len(steps)
        selection = None
        if data.select is not None:
            selection = evaluate(model, data.select, loss, compute)
        _record_epoch(state, model, epoch, train_loss, selection, lr, settings.selection_warmup_epochs)
        state.history[-1]["steps"] = state.steps_done
        state.model, state.optimizer = model.state_dict(), optimizer.state_dict()
        state.scheduler = schedule.scheduler.state_dict()
        state.save(out_dir)
    _keep_selected_weights(model, state, budget)
    return state


def _should_stop(state: ResumeState, settings: FoldTrainingSettings) -> bool:
    patience = settings.early_stopping_patience
    return (
        patience is not None
        and state.best_epoch >= 0
        and state.epochs_done - 1 - state.best_epoch >= patience
    )


def _record_epoch(
    state: ResumeState,
    model: torch.nn.Module,
    epoch: int,
    train_loss: float,
    selection: Evaluation | None,
    lr: float,
    warmup_epochs: int,
) -> None:
    """Append the epoch to the history; keep its weights if it is the best selectable epoch so far.

    Epochs before ``warmup_epochs`` are never selected. An undefined C-index (no comparable pair) never
    counts as better, except that the first selectable epoch is always kept so that there is a model.
    """
    state.history.append(
        {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": math.nan if selection is None else selection.loss,
            "val_cindex": math.nan if selection is None else selection.cindex,
            "lr": lr,
        }
    )
    state.epochs_done = epoch + 1
    if selection is not None and epoch >= warmup_epochs:
        score = selection.cindex if math.isfinite(selection.cindex) else -math.inf
        if state.best_score is None or score > state.best_score:
            state.best_epoch, state.best_score = epoch, score
            state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    LOGGER.info(
        "epoch %d: train loss %.4f, selection loss %.4f, selection C-index %.4f, lr %.2e (best epoch %d)",
        epoch,
        train_loss,
        math.nan if selection is None else selection.loss,
        math.nan if selection is None else selection.cindex,
        lr,
        state.best_epoch,
    )


def _keep_selected_weights(model: torch.nn.Module, state: ResumeState, budget: Budget) -> None:
    """Load the selected epoch's weights; without selection (or before any), the final ones stay."""
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
        return
    if state.model is not None:
        model.load_state_dict(state.model)
    state.best_epoch = state.epochs_done - 1
    LOGGER.info("keeping the final weights (epoch %d, step %d)", state.best_epoch, state.steps_done)


def _write_checkpoint(
    path: Path,
    model: torch.nn.Module,
    model_name: str,
    options: Mapping[str, Any],
    data: FoldData,
    state: ResumeState,
    settings: FoldTrainingSettings,
    backbone: str | None,
) -> None:
    """The checkpoint with what a deployment on another cohort checks: the backbone and the training
    settings (the model options are stored on their own)."""
    save_checkpoint(
        path,
        model,
        model_name,
        options,
        data.backbone_dim,
        settings.n_bins,
        data.bin_edges.tolist(),
        best_epoch=state.best_epoch if state.epochs_done else None,
        protocol=settings.selection_label,
        backbone=backbone,
        training_settings=settings.fold_settings.model_dump(mode="json"),
    )

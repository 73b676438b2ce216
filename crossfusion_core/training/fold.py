"""Train one model on one cross-validation fold and write ``model.pt``, ``epochs.csv``, ``predictions.csv``.

Two protocols choose the epoch whose weights are kept:

- ``honest`` (default): an inner validation split is carved from the training fold (stratified on time
  bin x censorship); epochs are compared on it, training stops after ``early_stopping_patience`` epochs
  without a better inner C-index, and the held-out fold is scored once, with the chosen weights. Time
  bins are computed from the training fold only.
- ``reference``: the original study's protocol. Epochs are compared, and training stopped, on the C-index
  of the held-out fold itself, and that best value is what gets reported: optimistic, kept so that the
  published numbers can be reproduced. Time bins come from all patients of the split, as there.

In both, ``epochs.csv``'s ``val_*`` columns describe the set used for selection.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from crossfusion_core.data.bags import MAGNIFICATIONS, SurvivalBagDataset, features_size_bytes, patient_bags
from crossfusion_core.data.clinical import load_patients, named_ids
from crossfusion_core.data.labels import label_bins, time_bin_edges
from crossfusion_core.data.splits import FoldSplit, read_fold_split
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path, write_csv
from crossfusion_core.models import registry
from crossfusion_core.training.loop import Evaluation, LossSettings, evaluate, resolve_device, train_epoch
from crossfusion_core.training.resume import ResumeState, fingerprint
from crossfusion_core.training.sampling import balanced_epoch_order, inner_validation_split
from crossfusion_core.training.settings import TrainingSettings

LOGGER = logging.getLogger(__name__)
EPOCH_COLUMNS = ("epoch", "train_loss", "val_loss", "val_cindex", "lr")


@dataclasses.dataclass(frozen=True)
class FoldData:
    """The three patient sets of a fold, as datasets, and what the model needs to know about them."""

    fit: SurvivalBagDataset
    select: SurvivalBagDataset
    held_out: SurvivalBagDataset
    bin_edges: np.ndarray
    backbone_dim: int


def train_fold(
    settings: TrainingSettings,
    model_name: str,
    model_options: Mapping[str, Any],
    survival_csv: Path,
    split_csv: Path,
    feature_dirs: Mapping[int, Path],
    out_dir: Path,
    *,
    fold: int | None = None,
    threads: int | None = None,
) -> None:
    """Train ``model_name`` on the fold of ``split_csv`` and write its three outputs into ``out_dir``.

    ``feature_dirs`` maps 5, 10 and 20 to the folders of per-slide feature h5 files. ``fold`` defaults to
    the ``k`` of ``splits_{k}.csv``; ``threads`` to the CPUs this process may use. A run killed after
    some epochs resumes from ``out_dir/.resume.pt`` when called again with the same inputs.
    """
    out_dir = Path(out_dir)
    fold = _fold_number(split_csv) if fold is None else fold
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    device = resolve_device(settings.device)
    split = read_fold_split(split_csv)
    data = fold_data(settings, Path(survival_csv), Path(split_csv), split, feature_dirs)
    checked_options = dataclasses.asdict(registry.model_options(model_name, model_options))
    run_id = fingerprint(
        [_fingerprint_settings(settings), model_name, checked_options, split, data.bin_edges.tolist()]
    )
    with _deterministic():
        model = _new_model(settings, model_name, checked_options, data, device)
        state = _run_epochs(settings, model, data, device, out_dir, run_id)
        model.load_state_dict(state.best_state)
        held_out = evaluate(model, data.held_out, LossSettings(settings.loss, settings.alpha), device)
    _write_outputs(out_dir, state, model, model_name, checked_options, data, held_out, fold, settings)
    ResumeState.remove(out_dir)


def _fold_number(split_csv: Path) -> int:
    match = re.fullmatch(r"splits_(\d+)", Path(split_csv).stem)
    if match is None:
        raise PipelineInputError(
            split_csv, "cannot tell the fold from the file name", "name it splits_{k}.csv"
        )
    return int(match.group(1))


def _fingerprint_settings(settings: TrainingSettings) -> dict[str, Any]:
    """Settings that change results; ``models``, ``device`` and the cache size do not."""
    values = dataclasses.asdict(settings)
    for name in ("models", "device", "feature_cache_mb", "model_options"):
        values.pop(name)
    return values


def fold_data(
    settings: TrainingSettings,
    survival_csv: Path,
    split_csv: Path,
    split: FoldSplit,
    feature_dirs: Mapping[int, Path],
) -> FoldData:
    """Labelled bags of the fit, selection and held-out patients of a fold (see the module docstring)."""
    patients = load_patients(survival_csv).set_index("case_id", drop=False)
    unknown = [c for c in split.train + split.val if c not in patients.index]
    if unknown:
        raise PipelineInputError(
            split_csv, f"patient(s) absent from {survival_csv}: {named_ids(unknown)}", "regenerate the splits"
        )
    train, held_out = patients.loc[list(split.train)], patients.loc[list(split.val)]
    if settings.protocol == "reference":
        edges = time_bin_edges(pd.concat([train, held_out]), settings.n_bins)
        groups = [train, held_out]
    else:
        edges = time_bin_edges(train, settings.n_bins)
        strata = 2 * label_bins(train["survival_months"], edges) + train["censorship"].to_numpy()
        fit_rows, select_rows = inner_validation_split(
            strata, train["censorship"].to_numpy(), settings.inner_val_fraction, settings.seed
        )
        groups = [train.iloc[fit_rows], train.iloc[select_rows], held_out]
    ordered = pd.concat(groups)
    bags, backbone_dim = patient_bags(
        ordered, _checked_feature_dirs(feature_dirs), label_bins(ordered["survival_months"], edges)
    )
    cache = features_size_bytes(bags, backbone_dim) <= settings.feature_cache_mb * 2**20
    bounds = np.cumsum([0, *map(len, groups)])
    datasets = [SurvivalBagDataset(bags[a:b], cache) for a, b in itertools.pairwise(bounds)]
    return FoldData(datasets[0], datasets[1], datasets[-1], edges, backbone_dim)


def _checked_feature_dirs(feature_dirs: Mapping[int, Path]) -> dict[int, Path]:
    dirs = {int(k): Path(v) for k, v in feature_dirs.items()}
    missing = [m for m in MAGNIFICATIONS if m not in dirs]
    if missing:
        raise PipelineInputError(
            None, f"no feature folder for magnification(s) {missing}", "pass 5, 10 and 20"
        )
    return dirs


@contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels where PyTorch has them (warning, not failing, where it has not)."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _new_model(
    settings: TrainingSettings, name: str, options: Mapping[str, Any], data: FoldData, device: torch.device
) -> torch.nn.Module:
    torch.manual_seed(settings.seed)
    return registry.build_model(name, data.backbone_dim, settings.n_bins, options).to(device)


def _run_epochs(
    settings: TrainingSettings,
    model: torch.nn.Module,
    data: FoldData,
    device: torch.device,
    out_dir: Path,
    run_id: str,
) -> ResumeState:
    """Train until ``epochs`` or early stopping; returns the final state with the selected weights."""
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=settings.epochs, eta_min=settings.eta_min
    )
    state = ResumeState.load_or_new(out_dir, run_id)
    if state.model is not None:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
    loss = LossSettings(settings.loss, settings.alpha)
    strata = np.array([2 * bag.label_bin + bag.censorship for bag in data.fit.bags])
    while state.epochs_done < settings.epochs and not _should_stop(state, settings):
        epoch = state.epochs_done
        torch.manual_seed(settings.seed + 1 + epoch)
        lr = optimizer.param_groups[0]["lr"]
        order = balanced_epoch_order(strata, settings.seed, epoch)
        train_loss = train_epoch(model, data.fit, order, optimizer, loss, settings.grad_accumulation, device)
        scheduler.step()
        selection = evaluate(model, data.select, loss, device)
        _record_epoch(state, model, epoch, train_loss, selection, lr)
        state.model, state.optimizer = model.state_dict(), optimizer.state_dict()
        state.scheduler = scheduler.state_dict()
        state.save(out_dir)
    return state


def _should_stop(state: ResumeState, settings: TrainingSettings) -> bool:
    return (
        state.best_epoch >= 0 and state.epochs_done - 1 - state.best_epoch >= settings.early_stopping_patience
    )


def _record_epoch(
    state: ResumeState,
    model: torch.nn.Module,
    epoch: int,
    train_loss: float,
    selection: Evaluation,
    lr: float,
) -> None:
    """Append the epoch to the history and keep its weights if its selection C-index is the best so far.

    An undefined C-index (no comparable pair) never counts as better, except that the first epoch is
    always kept so that there is a model to write.
    """
    state.history.append(
        {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": selection.loss,
            "val_cindex": selection.cindex,
            "lr": lr,
        }
    )
    score = selection.cindex if math.isfinite(selection.cindex) else -math.inf
    if state.best_score is None or score > state.best_score:
        state.best_epoch, state.best_score = epoch, score
        state.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state.epochs_done = epoch + 1
    LOGGER.info(
        "epoch %d: train loss %.4f, val loss %.4f, val C-index %.4f, lr %.2e (best epoch %d)",
        epoch,
        train_loss,
        selection.loss,
        selection.cindex,
        lr,
        state.best_epoch,
    )


def _write_outputs(
    out_dir: Path,
    state: ResumeState,
    model: torch.nn.Module,
    model_name: str,
    options: Mapping[str, Any],
    data: FoldData,
    held_out: Evaluation,
    fold: int,
    settings: TrainingSettings,
) -> None:
    write_csv(out_dir / "predictions.csv", prediction_table(data.held_out, held_out, fold))
    write_csv(out_dir / "epochs.csv", pd.DataFrame(state.history, columns=list(EPOCH_COLUMNS)))
    checkpoint = {
        "model_name": model_name,
        "model_options": dict(options),
        "backbone_dim": data.backbone_dim,
        "n_bins": settings.n_bins,
        "bin_edges": data.bin_edges.tolist(),
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "best_epoch": state.best_epoch,
        "protocol": settings.protocol,
    }
    with atomic_path(out_dir / "model.pt") as tmp:
        torch.save(checkpoint, tmp)


def prediction_table(dataset: SurvivalBagDataset, result: Evaluation, fold: int) -> pd.DataFrame:
    """The ``predictions.csv`` rows: one per held-out patient, in split order."""
    table = pd.DataFrame(
        {
            "case_id": [bag.case_id for bag in dataset.bags],
            "slide_ids": [";".join(bag.slide_ids) for bag in dataset.bags],
            "survival_months": [bag.survival_months for bag in dataset.bags],
            "censorship": [bag.censorship for bag in dataset.bags],
            "label_bin": [bag.label_bin for bag in dataset.bags],
            "risk": result.risk,
        }
    )
    for k in range(result.hazards.shape[1]):
        table[f"hazard_{k}"] = result.hazards[:, k]
    table["fold"] = fold
    return table

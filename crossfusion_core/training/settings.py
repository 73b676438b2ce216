"""The ``training`` section of config/config.yaml as a checked, frozen dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from crossfusion_core.data.fold_count import check_fold_count
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.settings import section_values

CONFIG_PATH = "config/config.yaml"
PROTOCOLS = ("honest", "reference")
SELECTIONS = ("final", "inner_validation")
ITEMS = ("patient", "slide")
LOSSES = ("nll", "cox")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
SAMPLINGS = ("stratified_permutation", "weighted_replacement")
INPUT_BASES = ("patches", "patients")
OPTIMIZERS = ("adam", "adamw")
OPTIONAL_COUNTS = ("steps", "epochs", "early_stopping_patience", "cosine_period_epochs", "max_train_patches")
"""Settings that are a positive whole number or null (switched off)."""


def _error(problem: str, fix: str) -> PipelineInputError:
    return PipelineInputError(CONFIG_PATH, f"training.{problem}", fix)


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How every fold is trained.

    ``protocol``: ``honest`` never looks at the held-out fold before scoring it once; ``reference``
    reproduces the original study, which picks the epoch by the C-index of the held-out fold itself
    (optimistic). Under ``honest``, ``selection`` says which weights are kept: ``final`` trains on every
    training patient for the whole budget and keeps the last weights (the default: on small cohorts an
    inner split of a few patients ranks epochs by noise), ``inner_validation`` carves
    ``inner_val_fraction`` of the training patients off, stratified, and keeps the epoch that scores best
    on them (sensible from a few hundred patients on).

    Length: exactly one of ``steps`` (optimiser steps, the same budget whatever the cohort size) and
    ``epochs`` (passes over the training items, as the original study counts). ``grad_accumulation``
    patients make one optimiser step, capped at the number of training items. The learning rate follows
    one cosine from ``lr`` to ``eta_min`` over the run, stepped every optimiser step, unless
    ``cosine_period_epochs`` is set: then it is the original's ``CosineAnnealingLR(T_max=period)``
    stepped once per epoch, which rises again after each period.

    ``repeats``: repeated cross-validation, ``n_folds`` folds drawn from each of the seeds
    ``split_seed``, ``split_seed + 1``, ...; fold ``k`` is fold ``k % n_folds`` of repeat
    ``k // n_folds``, and metrics pool each repeat's out-of-fold risks, then average over repeats.

    ``input_basis``: with ``input_components``, whether the components are the leading principal axes of
    the training patches or of the training patients' mean features (``models.standardized``).

    ``optimizer``: ``adam`` (the original's; its ``weight_decay`` is added to the gradient, where Adam's
    scaling all but cancels it) or ``adamw`` (decoupled weight decay, a real pull of every weight towards
    zero, which is what regularises a MIL model on a few dozen patients).

    ``ensemble``: models trained per fold, from seeds ``seed``, ``seed + 1``, ..., whose hazards are
    averaged (``models.ensemble``; a closed-form model is fitted once whatever this says).

    ``max_train_patches``: at each training step every bag is cut to at most this many random patches
    per scale (None: every patch); evaluation always sees every patch.

    ``sampling``: the order items are visited in (``training.sampling``): ``stratified_permutation``
    visits every item once per epoch with the time bin x censorship strata spread evenly through it;
    ``weighted_replacement`` is the original's class-balanced draw with replacement.

    ``items``: ``patient`` (one bag per patient, its slides concatenated) or ``slide`` (every slide an
    item with its patient's label, time bins over slide rows, as the original; predictions are then the
    mean over a patient's slides). ``selection_warmup_epochs``: epochs never selected, at the start.
    ``early_stopping_patience``: epochs without a better selection score before stopping (None: never).
    ``precision``: ``bf16`` runs forward passes under bfloat16 autocast, ``fp32`` without; ``auto`` is
    bf16 on CUDA and fp32 on the CPU. ``standardize_features``: z-score each scale's patch features with
    the fold's training patches before a trained model sees them (``models.standardized``; the original
    code does not, so its preset turns it off); ``input_components``: with standardisation, reduce each
    scale to its leading whitened principal components (0 keeps every feature). ``feature_cache_mb``:
    bags are kept in memory when the fold's features fit in this budget. ``final_model``: also train
    each model once on every patient, with the folds' settings and budget, for deployment on other
    cohorts (``deploy.weights: final``); it needs a protocol that does not select on a held-out fold.
    """

    models: tuple[str, ...] = ("crossfusion", "crossfusion_single", "linear_probe")
    n_bins: int = 4
    n_folds: int = 5
    repeats: int = 1
    split_seed: int = 1
    protocol: str = "honest"
    selection: str = "final"
    inner_val_fraction: float = 0.2
    items: str = "patient"
    steps: int | None = 100
    epochs: int | None = None
    early_stopping_patience: int | None = None
    selection_warmup_epochs: int = 0
    loss: str = "nll"
    alpha: float = 0.2
    optimizer: str = "adam"
    lr: float = 2.0e-4
    weight_decay: float = 1.0e-4
    eta_min: float = 1.0e-6
    cosine_period_epochs: int | None = None
    grad_accumulation: int = 8
    ensemble: int = 1
    max_train_patches: int | None = None
    sampling: str = "stratified_permutation"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    standardize_features: bool = True
    input_components: int = 0
    input_basis: str = "patches"
    feature_cache_mb: int = 4096
    final_model: bool = False
    model_options: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> TrainingSettings:
        """Settings from the config section; missing keys take the defaults, unknown keys are errors."""
        values = section_values(mapping, cls, "training", error=_error)
        for name in OPTIONAL_COUNTS:
            if name in values:
                values[name] = _optional_count(name, values[name])
        if "model_options" in values:
            values["model_options"] = _model_options(values["model_options"])
        return cls(**values)

    @property
    def n_fold_runs(self) -> int:
        """Folds over all repeats: the number of ``splits_{k}.csv`` files and of training jobs per model."""
        return self.n_folds * self.repeats

    def repeat_of(self, fold: int) -> int:
        """The repeat that fold ``k`` (over all repeats) belongs to."""
        return fold // self.n_folds

    @property
    def selects_on_held_out(self) -> bool:
        return self.protocol == "reference"

    @property
    def selects_on_inner_split(self) -> bool:
        return self.protocol == "honest" and self.selection == "inner_validation"

    @property
    def selection_label(self) -> str:
        """How the kept weights were chosen, for tables and plots (``honest, final`` ...)."""
        return "reference (held-out selection)" if self.selects_on_held_out else f"honest, {self.selection}"

    def __post_init__(self) -> None:
        for name, choices in (
            ("protocol", PROTOCOLS),
            ("selection", SELECTIONS),
            ("items", ITEMS),
            ("loss", LOSSES),
            ("device", DEVICES),
            ("precision", PRECISIONS),
            ("sampling", SAMPLINGS),
            ("input_basis", INPUT_BASES),
            ("optimizer", OPTIMIZERS),
        ):
            if getattr(self, name) not in choices:
                raise _error(
                    f"{name}={getattr(self, name)!r} is not one of {choices}", f"set {name} to {choices[0]}"
                )
        self._check_budget()
        if self.n_bins < 2:
            raise _error(f"n_bins={self.n_bins} is too small", "raise n_bins to 2 or more")
        try:
            check_fold_count(self.n_folds)
        except PipelineInputError as error:
            raise PipelineInputError(CONFIG_PATH, error.problem, error.fix) from None
        if self.ensemble < 1:
            raise _error(
                f"ensemble={self.ensemble} is below 1", "set ensemble to 1 (one model per fold) or more"
            )
        if self.repeats < 1:
            raise _error(f"repeats={self.repeats} is below 1", "set repeats to 1 (plain cross-validation)")
        if self.grad_accumulation < 1 or self.selection_warmup_epochs < 0:
            raise _error("grad_accumulation must be >= 1 and selection_warmup_epochs >= 0", "fix the value")
        if self.loss == "cox" and self.grad_accumulation < 2:
            raise _error("loss=cox needs grad_accumulation >= 2 (its window is the Cox risk set)", "use 32")
        if not 0.0 < self.inner_val_fraction < 1.0:
            raise _error(f"inner_val_fraction={self.inner_val_fraction} is not in (0, 1)", "use e.g. 0.2")
        if not 0.0 <= self.alpha <= 1.0:
            raise _error(f"alpha={self.alpha} is not in [0, 1]", "use e.g. 0.2")
        if not (self.lr > 0 and 0.0 <= self.eta_min <= self.lr):
            raise _error(f"lr={self.lr}, eta_min={self.eta_min}: need 0 <= eta_min <= lr", "use lr / 100")
        if self.input_components < 0 or (self.input_components and not self.standardize_features):
            raise _error(
                f"input_components={self.input_components} needs standardize_features: true",
                "set input_components to 0, or standardize_features to true",
            )
        if self.weight_decay < 0 or self.feature_cache_mb < 0:
            raise _error("weight_decay and feature_cache_mb must not be negative", "use 0 to disable")
        if self.final_model and self.selects_on_held_out:
            raise _error(
                "final_model needs a held-out-free protocol: protocol=reference picks the epoch on the "
                "held-out fold, which a model trained on every patient does not have",
                "use protocol: honest, or final_model: false",
            )

    def _check_budget(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise _error(
                f"steps={self.steps}, epochs={self.epochs}: give exactly one training length",
                "set steps (optimiser steps) and epochs: null, or the other way round",
            )
        has_selection_set = self.selects_on_held_out or self.selects_on_inner_split
        if self.early_stopping_patience is not None and not has_selection_set:
            raise _error(
                "early_stopping_patience needs a selection set, and selection=final has none",
                "set early_stopping_patience: null, or selection: inner_validation",
            )


def _optional_count(name: str, value: Any) -> int | None:
    """A positive count, or None (YAML ``null``) where the setting may be switched off."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number.is_integer() or number < 1:
        raise _error(f"{name}={value!r} is not a positive whole number", f"give {name} as e.g. 10, or null")
    return int(number)


def _model_options(value: Any) -> dict[str, dict[str, Any]]:
    """``{model: {option: value}}`` with empty entries as ``{}``; each model checks its own options."""
    try:
        return {str(model): dict(options or {}) for model, options in dict(value or {}).items()}
    except (TypeError, ValueError):
        raise _error(f"model_options={value!r} is not a mapping", "give {model: {option: value}}") from None

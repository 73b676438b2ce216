"""The ``training`` section of config/config.yaml: how every fold is trained, and which models.

Train jobs get the fold-level part only (:class:`FoldTrainingSettings`, without the model list, the
model options and ``final_model``), so adding a model or editing another model's options reruns no
other model's jobs; each job gets its own model's options on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator
from typing_extensions import Self

from crossfusion_core.data.fold_count import check_fold_count
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.options import ModelOptions
from crossfusion_core.models.registry import MODEL_NAMES, model_options, options_type
from crossfusion_core.settings import (
    ConfigProblem,
    Count,
    Names,
    PositiveCount,
    Settings,
    choose,
    explain,
)


class FoldTrainingSettings(Settings):
    """How every fold is trained.

    ``protocol``: ``honest`` never looks at the held-out fold before scoring it once; ``original``
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
    bags are kept in memory when the fold's features fit in this budget.
    """

    section: ClassVar[str] = "training"
    n_bins: Count = Field(4, ge=2)
    n_folds: Count = 5
    repeats: PositiveCount = 1
    split_seed: Count = 1
    protocol: Literal["honest", "original"] = "honest"
    selection: Literal["final", "inner_validation"] = "final"
    inner_val_fraction: float = Field(0.2, gt=0, lt=1)
    items: Literal["patient", "slide"] = "patient"
    steps: PositiveCount | None = 100
    epochs: PositiveCount | None = None
    early_stopping_patience: PositiveCount | None = None
    selection_warmup_epochs: Count = Field(0, ge=0)
    loss: Literal["nll", "cox"] = "nll"
    alpha: float = Field(0.2, ge=0, le=1)
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = Field(2.0e-4, gt=0)
    weight_decay: float = Field(1.0e-4, ge=0)
    eta_min: float = Field(1.0e-6, ge=0)
    cosine_period_epochs: PositiveCount | None = None
    grad_accumulation: PositiveCount = 8
    ensemble: PositiveCount = 1
    max_train_patches: PositiveCount | None = None
    sampling: Literal["stratified_permutation", "weighted_replacement"] = "stratified_permutation"
    seed: Count = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    standardize_features: bool = True
    input_components: Count = Field(0, ge=0)
    input_basis: Literal["patches", "patients"] = "patches"
    feature_cache_mb: Count = Field(4096, ge=0)

    @property
    def n_fold_runs(self) -> int:
        """Folds over all repeats: the number of ``splits_{k}.csv`` files and of training jobs per model."""
        return self.n_folds * self.repeats

    def repeat_of(self, fold: int) -> int:
        """The repeat that fold ``k`` (over all repeats) belongs to."""
        return fold // self.n_folds

    @property
    def selects_on_held_out(self) -> bool:
        return self.protocol == "original"

    @property
    def selects_on_inner_split(self) -> bool:
        return self.protocol == "honest" and self.selection == "inner_validation"

    @property
    def selection_label(self) -> str:
        """How the kept weights were chosen, for tables and plots (``honest, final`` ...)."""
        return "original (held-out selection)" if self.selects_on_held_out else f"honest, {self.selection}"

    @property
    def fold_settings(self) -> FoldTrainingSettings:
        """What a train job needs and a checkpoint records: these settings alone, also of a whole
        training section (without its models, their options and ``final_model``)."""
        fold_level = self.model_dump(include=set(FoldTrainingSettings.model_fields))
        return FoldTrainingSettings.model_validate(fold_level)

    @field_validator("n_folds")
    @classmethod
    def _enough_folds(cls, n_folds: int) -> int:
        """The lower bound the dry run and the splits job also check, in the same words."""
        try:
            check_fold_count(n_folds)
        except PipelineInputError as error:
            raise ConfigProblem(error.problem, error.fix) from None
        return n_folds

    @model_validator(mode="after")
    def _one_training_length(self) -> Self:
        if (self.steps is None) == (self.epochs is None):
            raise ConfigProblem(
                f"steps={self.steps}, epochs={self.epochs}: give exactly one training length",
                "set steps (optimiser steps) and epochs: null, or the other way round",
                key=("steps",),
            )
        return self

    @model_validator(mode="after")
    def _patience_needs_a_selection_set(self) -> Self:
        if self.early_stopping_patience is not None and not (
            self.selects_on_held_out or self.selects_on_inner_split
        ):
            raise ConfigProblem(
                "early_stopping_patience needs a selection set, and selection=final has none",
                "set early_stopping_patience: null, or selection: inner_validation",
                key=("early_stopping_patience",),
            )
        return self

    @model_validator(mode="after")
    def _cox_needs_a_risk_set(self) -> Self:
        if self.loss == "cox" and self.grad_accumulation < 2:
            raise ConfigProblem(
                f"loss=cox needs grad_accumulation >= 2 (its window is the Cox risk set), not "
                f"{self.grad_accumulation}",
                "set grad_accumulation to e.g. 32",
                key=("grad_accumulation",),
            )
        return self

    @model_validator(mode="after")
    def _eta_min_below_lr(self) -> Self:
        if self.eta_min > self.lr:
            raise ConfigProblem(
                f"eta_min={self.eta_min} is above lr={self.lr}: the learning rate would rise",
                "set eta_min to lr / 100 or lower",
                key=("eta_min",),
            )
        return self

    @model_validator(mode="after")
    def _components_need_standardization(self) -> Self:
        if self.input_components and not self.standardize_features:
            raise ConfigProblem(
                f"input_components={self.input_components} needs standardize_features: true",
                "set input_components to 0, or standardize_features to true",
                key=("input_components",),
            )
        return self


def _options_schema(schema: dict[str, Any]) -> None:
    """config/schema.yaml lists each model's own options, where the field's type is only their base."""
    schema["properties"] = {
        name: {"anyOf": [options_type(name).model_json_schema(), {"type": "null"}]} for name in MODEL_NAMES
    }
    schema["additionalProperties"] = False


class TrainingSettings(FoldTrainingSettings):
    """The whole ``training`` section: the fold-level settings, the models to train, their options and
    whether a final model is trained too.

    ``models``: registry names (``models.registry``); ``model_options``: per model, its options, checked
    into that model's options model (absent models take every default: :meth:`options_of`).
    ``final_model``: also train each model once on every patient, with the folds' settings and budget,
    for deployment on other cohorts (``deploy.weights: final``); it needs a protocol that does not select
    on a held-out fold.
    """

    models: Names = ("crossfusion", "crossfusion_single", "linear_probe")
    model_options: dict[str, SerializeAsAny[ModelOptions]] = Field(
        default_factory=dict, json_schema_extra=_options_schema
    )
    final_model: bool = False

    def options_of(self, model: str) -> ModelOptions:
        """Model ``model``'s checked options: the configured ones, else its defaults."""
        return model_options(model, self.model_options.get(model))

    @field_validator("models")
    @classmethod
    def _registered_models(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        for index, name in enumerate(models):
            if name not in MODEL_NAMES:
                raise ConfigProblem(f"{name!r} is not a model", choose(name, MODEL_NAMES), key=(index,))
        return models

    @field_validator("model_options", mode="before")
    @classmethod
    def _typed_options(cls, given: Any) -> Any:
        """Each model's options validated into its own options model (``None`` entries: the defaults)."""
        if given is None:
            return {}
        if not isinstance(given, Mapping):
            return given
        return {str(name): _checked_options(str(name), options) for name, options in given.items()}

    @model_validator(mode="after")
    def _final_model_needs_no_held_out_selection(self) -> Self:
        if self.final_model and self.selects_on_held_out:
            raise ConfigProblem(
                "final_model needs a held-out-free protocol: protocol=original picks the epoch on the "
                "held-out fold, which a model trained on every patient does not have",
                "use protocol: honest, or final_model: false",
                key=("final_model",),
            )
        return self


def _checked_options(name: str, options: Any) -> ModelOptions:
    """``options`` as model ``name``'s options model; a problem names the model and the option."""
    if name not in MODEL_NAMES:
        raise ConfigProblem(
            f"options are given for {name!r}, which is not a model", choose(name, MODEL_NAMES), key=(name,)
        )
    try:
        return options_type(name).model_validate({} if options is None else options)
    except ValidationError as error:
        key, problem, fix = explain(options_type(name), error)
        raise ConfigProblem(problem, fix, key=(name, *key)) from None

"""Model names -> small specs, so the config can name a model and the workflow never imports one.

Adding a model is one entry in ``_SPECS`` (its options model and its class) and one line in the
registry test, which then checks the shared interface (:mod:`crossfusion_core.models.interface`) on it.
The options models live in :mod:`crossfusion_core.models.options` and the classes are named, not
imported, so that this registry imports no torch: the workflow checks model names and options against
it while it builds its DAG.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.options import (
    ABMILOptions,
    CrossFusionConcatOptions,
    CrossFusionOptions,
    CrossFusionSingleOptions,
    DSMILOptions,
    LinearProbeOptions,
    ModelOptions,
    TransMILOptions,
)
from crossfusion_core.settings import choose

if TYPE_CHECKING:
    from torch import nn


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build one model: its options (with defaults and checks) and its class.

    ``model_class`` is ``"module:Class"`` under ``crossfusion_core.models``, imported when a model is built.
    Every model class takes ``(backbone_dim, n_bins=..., **options)``, so one ``build`` serves all;
    ``fixed`` holds constructor arguments that make a variant (an ablation) rather than an option.
    """

    options_type: type[ModelOptions]
    model_class: str
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def build(self, backbone_dim: int, n_bins: int, options: ModelOptions) -> nn.Module:
        return self.model_type(backbone_dim, n_bins=n_bins, **options.model_dump(), **self.fixed)

    def options(self, given: ModelOptions | Mapping[str, Any] | None) -> ModelOptions:
        """``given`` as this model's checked options: already checked ones as they are, a mapping (the
        config's, a checkpoint's) validated with every default filled in."""
        if type(given) is self.options_type:
            return given
        return self.options_type.from_mapping(None if given is None else dict(given))

    @property
    def model_type(self) -> type[nn.Module]:
        module, name = self.model_class.split(":")
        return getattr(importlib.import_module(f"crossfusion_core.models.{module}"), name)


_SPECS: dict[str, ModelSpec] = {
    "crossfusion": ModelSpec(CrossFusionOptions, "crossfusion:CrossFusion"),
    "abmil": ModelSpec(ABMILOptions, "abmil:ABMIL"),
    "transmil": ModelSpec(TransMILOptions, "single_scale:PadTransformerMIL", {"branch": False}),
    "dsmil": ModelSpec(DSMILOptions, "dsmil:DSMIL"),
    "crossfusion_single": ModelSpec(
        CrossFusionSingleOptions, "single_scale:PadTransformerMIL", {"branch": True}
    ),
    "crossfusion_concat": ModelSpec(
        CrossFusionConcatOptions, "crossfusion:CrossFusion", {"fusion": "concat"}
    ),
    "linear_probe": ModelSpec(LinearProbeOptions, "linear_probe:LinearProbe"),
}

MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)


def model_options(name: str, options: ModelOptions | Mapping[str, Any] | None = None) -> ModelOptions:
    """The checked options of model ``name``, defaults filled in (what a checkpoint records)."""
    return _spec(name).options(options)


def options_type(name: str) -> type[ModelOptions]:
    """The options model of model ``name`` (what ``training.model_options.<name>`` validates into)."""
    return _spec(name).options_type


def model_type(name: str) -> type[nn.Module]:
    """The class of model ``name`` (importing it imports torch), for what training asks before building
    one: whether it is a :class:`~crossfusion_core.models.interface.ClosedFormModel`."""
    return _spec(name).model_type


def build_model(
    name: str, backbone_dim: int, n_bins: int, options: ModelOptions | Mapping[str, Any] | None = None
) -> nn.Module:
    """A freshly initialised model; ``model(x5, x10, x20)`` returns a ``SurvivalOutput``."""
    if backbone_dim < 1 or n_bins < 1:
        raise PipelineInputError(
            None, f"model {name!r}: backbone_dim={backbone_dim} and n_bins={n_bins} must be positive", None
        )
    spec = _spec(name)
    return spec.build(backbone_dim, n_bins, spec.options(options))


def _spec(name: str) -> ModelSpec:
    if name not in _SPECS:
        raise PipelineInputError(None, f"{name!r} is not a model", choose(name, MODEL_NAMES))
    return _SPECS[name]

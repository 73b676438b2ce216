"""Model names -> small specs, so the config can name a model and the workflow never imports one.

Adding a model is one entry in ``_SPECS`` (its options dataclass and its class) and one line in the
registry test, which then checks the shared interface on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from torch import nn

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.abmil import ABMIL, ABMILOptions
from crossfusion_core.models.crossfusion import CrossFusion, CrossFusionConcatOptions, CrossFusionOptions
from crossfusion_core.models.dsmil import DSMIL, DSMILOptions
from crossfusion_core.models.options import CONFIG_PATH, ModelOptions
from crossfusion_core.models.single_scale import CrossFusionSingleOptions, PadTransformerMIL, TransMILOptions


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build one model: its options (with defaults and checks) and its class.

    Every model class takes ``(backbone_dim, n_bins=..., **options)``, so one ``build`` serves all;
    ``fixed`` holds constructor arguments that make a variant (an ablation) rather than an option.
    """

    options_type: type[ModelOptions]
    model_type: type[nn.Module]
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def build(self, backbone_dim: int, n_bins: int, options: Mapping[str, Any] | None) -> nn.Module:
        checked = self.options_type.from_mapping(options)
        return self.model_type(backbone_dim, n_bins=n_bins, **dataclasses.asdict(checked), **self.fixed)


_SPECS: dict[str, ModelSpec] = {
    "crossfusion": ModelSpec(CrossFusionOptions, CrossFusion),
    "abmil": ModelSpec(ABMILOptions, ABMIL),
    "transmil": ModelSpec(TransMILOptions, PadTransformerMIL, {"branch": False}),
    "dsmil": ModelSpec(DSMILOptions, DSMIL),
    "crossfusion_single": ModelSpec(CrossFusionSingleOptions, PadTransformerMIL, {"branch": True}),
    "crossfusion_concat": ModelSpec(CrossFusionConcatOptions, CrossFusion, {"fusion": "concat"}),
}

MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)


def model_options(name: str, options: Mapping[str, Any] | None = None) -> ModelOptions:
    """The checked options of model ``name``, defaults filled in (what a checkpoint records)."""
    return _spec(name).options_type.from_mapping(options)


def build_model(
    name: str, backbone_dim: int, n_bins: int, options: Mapping[str, Any] | None = None
) -> nn.Module:
    """A freshly initialised model; ``model(x5, x10, x20)`` returns a ``SurvivalOutput``."""
    if backbone_dim < 1 or n_bins < 1:
        raise PipelineInputError(
            None, f"model {name!r}: backbone_dim={backbone_dim} and n_bins={n_bins} must be positive", None
        )
    return _spec(name).build(backbone_dim, n_bins, options)


def _spec(name: str) -> ModelSpec:
    if name not in _SPECS:
        raise PipelineInputError(
            CONFIG_PATH, f"training.models names an unknown model {name!r}", f"use one of {list(MODEL_NAMES)}"
        )
    return _SPECS[name]

"""The ``training`` section of config/config.yaml as a checked, frozen dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.settings import section_values

CONFIG_PATH = "config/config.yaml"
PROTOCOLS = ("honest", "reference")
LOSSES = ("nll", "cox")
DEVICES = ("auto", "cpu", "cuda")


def _error(problem: str, fix: str) -> PipelineInputError:
    return PipelineInputError(CONFIG_PATH, f"training.{problem}", fix)


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How every fold is trained.

    ``protocol``: ``honest`` selects the epoch on an inner validation split carved (stratified) from the
    training fold and scores the held-out fold once; ``reference`` reproduces the original study, which
    selects the epoch by the C-index of the held-out fold itself (optimistic). ``feature_cache_mb``: bags
    are kept in memory when the fold's features fit in this budget, else re-read from h5 every epoch.
    """

    models: tuple[str, ...] = ("crossfusion", "abmil")
    n_bins: int = 4
    n_folds: int = 5
    split_seed: int = 1
    protocol: str = "honest"
    inner_val_fraction: float = 0.2
    epochs: int = 12
    early_stopping_patience: int = 5
    loss: str = "nll"
    alpha: float = 0.2
    lr: float = 1.0e-4
    weight_decay: float = 4.0e-6
    eta_min: float = 1.0e-6
    grad_accumulation: int = 32
    seed: int = 0
    device: str = "auto"
    feature_cache_mb: int = 4096
    model_options: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> TrainingSettings:
        """Settings from the config section; missing keys take the defaults, unknown keys are errors."""
        values = section_values(mapping, cls, "training", error=_error)
        if "model_options" in values:
            values["model_options"] = _model_options(values["model_options"])
        return cls(**values)

    def __post_init__(self) -> None:
        for name, choices in (("protocol", PROTOCOLS), ("loss", LOSSES), ("device", DEVICES)):
            if getattr(self, name) not in choices:
                raise _error(
                    f"{name}={getattr(self, name)!r} is not one of {choices}", f"set {name} to {choices[0]}"
                )
        for name in ("n_bins", "n_folds", "epochs", "early_stopping_patience", "grad_accumulation"):
            if getattr(self, name) < (2 if name in ("n_bins", "n_folds") else 1):
                raise _error(f"{name}={getattr(self, name)} is too small", f"raise {name}")
        if self.loss == "cox" and self.grad_accumulation < 2:
            raise _error("loss=cox needs grad_accumulation >= 2 (its window is the Cox risk set)", "use 32")
        if not 0.0 < self.inner_val_fraction < 1.0:
            raise _error(f"inner_val_fraction={self.inner_val_fraction} is not in (0, 1)", "use e.g. 0.2")
        if not 0.0 <= self.alpha <= 1.0:
            raise _error(f"alpha={self.alpha} is not in [0, 1]", "use e.g. 0.2")
        if not 0.0 < self.eta_min <= self.lr:
            raise _error(f"eta_min={self.eta_min} must be positive and at most lr={self.lr}", "use lr / 100")
        if self.weight_decay < 0 or self.feature_cache_mb < 0:
            raise _error("weight_decay and feature_cache_mb must not be negative", "use 0 to disable")


def _model_options(value: Any) -> dict[str, dict[str, Any]]:
    """``{model: {option: value}}`` with empty entries as ``{}``; each model checks its own options."""
    try:
        return {str(model): dict(options or {}) for model, options in dict(value or {}).items()}
    except (TypeError, ValueError):
        raise _error(f"model_options={value!r} is not a mapping", "give {model: {option: value}}") from None

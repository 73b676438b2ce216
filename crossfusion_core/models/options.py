"""Model options as frozen dataclasses, checked once when a model is built from the config.

``training.model_options.<model>`` in config/config.yaml is a free-form mapping; turning it into a typed
dataclass here means a typo (``embed_dims: 512``) fails at the start of training with a message that
names the option, rather than being silently ignored.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.settings import coerced_values

SCALES = ("coarse", "source", "fine")
"""The three bags, named as in config ``patching.magnifications``: 5x, 10x and 20x."""

CONFIG_PATH = "config/config.yaml"

OptionsT = TypeVar("OptionsT", bound="ModelOptions")


def options_error(model_name: str, problem: str, fix: str) -> PipelineInputError:
    """An error pointing at ``training.model_options.<model>`` in the config."""
    return PipelineInputError(CONFIG_PATH, f"training.model_options.{model_name}: {problem}", fix)


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """Base of every model's options: ``from_mapping`` rejects unknown keys and coerces numbers."""

    model_name: ClassVar[str] = "model"

    @classmethod
    def from_mapping(cls: type[OptionsT], mapping: Mapping[str, Any] | None) -> OptionsT:
        """Options from a config mapping; missing keys take the dataclass defaults."""
        mapping = dict(mapping or {})
        error = functools.partial(options_error, cls.model_name)
        known = sorted(field.name for field in dataclasses.fields(cls))
        unknown = sorted(set(mapping) - set(known))
        if unknown:  # the config calls these options, so the message does too
            raise error(f"unknown option(s) {unknown}", f"use only {known}")
        return cls(**coerced_values(mapping, cls, error))

    def check_probability(self, name: str) -> None:
        """Dropout rates must lie in [0, 1)."""
        value = getattr(self, name)
        if not 0.0 <= value < 1.0:
            raise options_error(
                self.model_name, f"{name}={value} is not in [0, 1)", f"set {name} to e.g. 0.25"
            )

    def check_positive(self, name: str) -> None:
        """Sizes and counts must be at least one."""
        value = getattr(self, name)
        if value < 1:
            raise options_error(self.model_name, f"{name}={value} must be positive", f"set {name} >= 1")

    def check_scale(self, name: str = "scale") -> None:
        """A scale option names one of the three bags."""
        value = getattr(self, name)
        if value not in SCALES:
            raise options_error(self.model_name, f"{name}={value!r} is not a scale", f"use one of {SCALES}")


@dataclasses.dataclass(frozen=True)
class SingleScaleMILOptions(ModelOptions):
    """Options every attention-pooling baseline shares; ``scale`` names the bag it reads
    (coarse = 5x, source = 10x, fine = 20x)."""

    hidden_dim: int = 256
    dropout: float = 0.25
    scale: str = "source"

    def __post_init__(self) -> None:
        self.check_positive("hidden_dim")
        self.check_probability("dropout")
        self.check_scale()

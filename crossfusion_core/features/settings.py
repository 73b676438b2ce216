"""The `features` section of the config, checked once where it enters the core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.settings import section_values

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
READ_STRATEGIES = ("shared", "per_patch")
EXTERNAL_FORMATS = ("clam", "trident")


@dataclass(frozen=True)
class ExternalFeatures:
    """Features computed elsewhere (CLAM or TRIDENT layout), one folder per magnification."""

    format: str
    dirs_by_magnification: Mapping[int, Path]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ExternalFeatures:
        fmt = str(mapping.get("format", "")).lower()
        if fmt not in EXTERNAL_FORMATS:
            raise _config_error(f"external.format is {fmt!r}", f"use one of {EXTERNAL_FORMATS}")
        dirs = mapping.get("dirs") or {}
        if not isinstance(dirs, Mapping) or not dirs:
            raise _config_error("external.dirs is empty", "give {5: dir, 10: dir, 20: dir}")
        return cls(format=fmt, dirs_by_magnification={int(m): Path(d) for m, d in dirs.items()})


@dataclass(frozen=True)
class FeatureSettings:
    """How patch features are computed: backbones, batching, device, precision, weights, reading."""

    backbones: tuple[str, ...] = ("efficientnet_lite0",)
    batch_size: int = 64
    num_workers: int = 2
    device: str = "auto"
    precision: str = "auto"
    weights: Mapping[str, Path] = field(default_factory=dict)
    external: ExternalFeatures | None = None
    read_strategy: str = "shared"
    read_retries: int = 2

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> FeatureSettings:
        """Build from the config's `features` section, rejecting unknown keys and bad values."""
        values = section_values(mapping, cls, "features", error=_config_error)
        values["weights"] = {str(name): Path(path) for name, path in (values.get("weights") or {}).items()}
        external = values.get("external")
        values["external"] = ExternalFeatures.from_mapping(external) if external else None
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.batch_size < 1 or self.num_workers < 0 or self.read_retries < 0:
            raise _config_error(
                f"batch_size={self.batch_size}, num_workers={self.num_workers}, "
                f"read_retries={self.read_retries}",
                "batch_size >= 1, num_workers >= 0, read_retries >= 0",
            )
        for key, value, allowed in (
            ("device", self.device, DEVICES),
            ("precision", self.precision, PRECISIONS),
            ("read_strategy", self.read_strategy, READ_STRATEGIES),
        ):
            if value not in allowed:
                raise _config_error(f"{key} is {value!r}", f"use one of {allowed}")


def _config_error(problem: str, fix: str) -> PipelineInputError:
    return PipelineInputError(Path("config/config.yaml"), f"section `features`: {problem}", fix)

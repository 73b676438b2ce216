"""The `features` section of the config, checked once where it enters the core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import FIXED_BY, MAGNIFICATIONS
from crossfusion_core.settings import reject_unknown_keys, section_values

DEVICES = ("auto", "cpu", "cuda")
CPU_RUNTIMES = ("onnxruntime", "torch")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
READ_STRATEGIES = ("tiles", "shared", "per_patch")
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
        given = {str(magnification): Path(folder) for magnification, folder in dirs.items()}
        if set(given) != set(map(str, MAGNIFICATIONS)):
            raise _config_error(
                f"external.dirs has folders for magnifications {list(dirs)}",
                f"give one folder for each of {list(MAGNIFICATIONS)}; {FIXED_BY}",
            )
        return cls(format=fmt, dirs_by_magnification={int(m): folder for m, folder in given.items()})


@dataclass(frozen=True)
class ExtractionResources:
    """How fast features are computed, never what they are: batch size, reader processes, device, and
    which runtime runs an fp32 backbone on the CPU (``onnxruntime``: the same network exported to ONNX,
    several times faster for CNNs; ``torch``; see :mod:`crossfusion_core.features.onnx_runtime`).

    The workflow gives these to extraction jobs as Snakemake resources rather than params, so editing
    them reruns nothing; they sit in the same `features` section of the config.
    """

    batch_size: int = 64
    num_workers: int | str = "auto"
    """Reader processes, or ``auto``: as many as the job's CPUs can run (see :meth:`for_job`)."""
    device: str = "auto"
    cpu_runtime: str = "onnxruntime"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> ExtractionResources:
        resources = cls(**section_values(mapping, cls, "features", error=_config_error))
        workers = resources.num_workers
        if resources.batch_size < 1 or not (workers == "auto" or _is_count(workers)):
            raise _config_error(
                f"batch_size={resources.batch_size}, num_workers={workers!r}",
                "batch_size >= 1, num_workers auto or >= 0",
            )
        if resources.device not in DEVICES:
            raise _config_error(f"device is {resources.device!r}", f"use one of {DEVICES}")
        if resources.cpu_runtime not in CPU_RUNTIMES:
            raise _config_error(f"cpu_runtime is {resources.cpu_runtime!r}", f"use one of {CPU_RUNTIMES}")
        return resources

    def for_job(self, threads: int, device_type: str) -> ExtractionResources:
        """These resources with ``num_workers: auto`` resolved for a job of ``threads`` CPUs that runs
        its backbone on ``device_type`` (``cuda`` or ``cpu``).

        On CUDA every CPU but the main process's reads: one reader makes ~550 patches per CPU-second
        (benchmarks/README.md, the tiles reader), a GPU encodes thousands per second. On the CPU the
        backbone is the bottleneck (tens of patches per second against hundreds for one reader), so one
        reader process overlaps reading with the model and leaves the CPUs to it.
        """
        if self.num_workers != "auto":
            return self
        return replace(self, num_workers=max(1, threads - 1) if device_type == "cuda" else 1)


RESOURCE_KEYS = tuple(item.name for item in fields(ExtractionResources))
"""The keys of the `features` section that are resources (see :class:`ExtractionResources`)."""


@dataclass(frozen=True)
class FeatureSettings:
    """How patch features are computed: backbones, precision, weights, reading, and the resources.

    ``resources`` holds the section's speed-only keys (``batch_size``, ``num_workers``, ``device``).
    """

    backbones: tuple[str, ...] = ("efficientnet_lite0",)
    precision: str = "auto"
    weights: Mapping[str, Path] = field(default_factory=dict)
    external: ExternalFeatures | None = None
    read_strategy: str = "tiles"
    read_retries: int = 2
    resources: ExtractionResources = field(default_factory=ExtractionResources)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> FeatureSettings:
        """Build from the config's `features` section, rejecting unknown keys and bad values."""
        mapping = dict(mapping or {})
        reject_unknown_keys(mapping, cls, "features", error=_config_error, known=SECTION_KEYS)
        resources = ExtractionResources.from_mapping(
            {k: mapping.pop(k) for k in RESOURCE_KEYS if k in mapping}
        )
        values = section_values(mapping, cls, "features", error=_config_error)
        values["weights"] = {str(name): Path(path) for name, path in (values.get("weights") or {}).items()}
        external = values.get("external")
        values["external"] = ExternalFeatures.from_mapping(external) if external else None
        settings = cls(**values, resources=resources)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.read_retries < 0:
            raise _config_error(f"read_retries={self.read_retries}", "read_retries >= 0")
        for key, value, allowed in (
            ("precision", self.precision, PRECISIONS),
            ("read_strategy", self.read_strategy, READ_STRATEGIES),
        ):
            if value not in allowed:
                raise _config_error(f"{key} is {value!r}", f"use one of {allowed}")


SECTION_KEYS = (
    tuple(item.name for item in fields(FeatureSettings) if item.name != "resources") + RESOURCE_KEYS
)
"""Every key of the config's `features` section."""


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _config_error(problem: str, fix: str) -> PipelineInputError:
    return PipelineInputError(Path("config/config.yaml"), f"section `features`: {problem}", fix)

"""The `features` section of the config, checked once where it enters the core."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BeforeValidator, Field, field_validator, model_validator
from typing_extensions import Self

from crossfusion_core.features.backbones import BACKBONES
from crossfusion_core.scales import FIXED_BY, MAGNIFICATIONS
from crossfusion_core.settings import (
    ConfigProblem,
    Count,
    Names,
    NullAsEmpty,
    PositiveCount,
    Settings,
    choose,
    each_once,
)

Device = Literal["auto", "cpu", "cuda"]
CpuRuntime = Literal["onnxruntime", "torch"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]
ReadStrategy = Literal["tiles", "shared", "per_patch"]
ExternalFormat = Literal["clam", "trident"]
DEVICES = get_args(Device)
CPU_RUNTIMES = get_args(CpuRuntime)
PRECISIONS = get_args(Precision)
READ_STRATEGIES = get_args(ReadStrategy)
EXTERNAL_FORMATS = get_args(ExternalFormat)


class ExternalFeatures(Settings):
    """Features computed elsewhere (CLAM or TRIDENT layout), one folder per magnification."""

    section: ClassVar[str] = "features.external"
    format: ExternalFormat
    dirs: dict[int, Path]

    @field_validator("dirs")
    @classmethod
    def _one_folder_per_scale(cls, dirs: dict[int, Path]) -> dict[int, Path]:
        """Patches are cut at fixed scales, so a folder of any other magnification could not be used."""
        if set(dirs) != set(MAGNIFICATIONS):
            raise ConfigProblem(
                f"has folders for magnifications {sorted(dirs)}",
                f"give one folder for each of {list(MAGNIFICATIONS)}, as {{5: dir, 10: dir, 20: dir}}; "
                f"{FIXED_BY}",
            )
        return dirs


def _auto_or_count(value: Any) -> Any:
    """``auto`` or a count >= 0, in one message: a union's own errors would each name one alternative."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ConfigProblem(
        f"{value!r} is neither auto nor a number of reader processes",
        "give auto (as many as the job's CPUs can run) or a whole number >= 0",
    )


Workers = Annotated[Literal["auto"] | Annotated[int, Field(ge=0)], BeforeValidator(_auto_or_count)]


class _ResourceKeys(Settings):
    """The speed-only keys of the `features` section, shared by the section and its resources."""

    batch_size: PositiveCount = 64
    num_workers: Workers = "auto"
    """Reader processes, or ``auto``: as many as the job's CPUs can run (see
    :meth:`ExtractionResources.for_job`)."""
    device: Device = "auto"
    cpu_runtime: CpuRuntime = "onnxruntime"


class ExtractionResources(_ResourceKeys):
    """How fast features are computed, never what they are: batch size, reader processes, device, and
    which runtime runs an fp32 backbone on the CPU (``onnxruntime``: the same network exported to ONNX,
    several times faster for CNNs; ``torch``; see :mod:`crossfusion_core.features.onnx_runtime`).

    The workflow gives these to extraction jobs as Snakemake resources rather than params, so editing
    them reruns nothing; they sit in the same `features` section of the config.
    """

    section: ClassVar[str] = "features"

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
        return self.model_copy(update={"num_workers": max(1, threads - 1) if device_type == "cuda" else 1})


RESOURCE_KEYS = tuple(ExtractionResources.model_fields)
"""The keys of the `features` section that are resources (see :class:`ExtractionResources`)."""


class FeatureSettings(_ResourceKeys):
    """How patch features are computed: backbones, precision, weights, reading, and the resources.

    The resource keys sit flat in the config's `features` section, so they are this model's fields
    too; :attr:`resources` hands them over on their own.
    """

    section: ClassVar[str] = "features"
    backbones: Names = Field(("efficientnet_lite0",), min_length=1)
    precision: Precision = "auto"
    weights: Annotated[dict[str, Path], NullAsEmpty] = Field(default_factory=dict)
    external: ExternalFeatures | None = None
    read_strategy: ReadStrategy = "tiles"
    read_retries: Count = Field(2, ge=0)

    @field_validator("backbones")
    @classmethod
    def _each_backbone_once(cls, backbones: tuple[str, ...]) -> tuple[str, ...]:
        return each_once(backbones, "backbone")

    @model_validator(mode="after")
    def _registered_backbones(self) -> Self:
        """Backbone names are the registry's (features/backbones.py), unless the features come from
        elsewhere (``external``: the names only label the folders)."""
        listed = {("backbones", index): name for index, name in enumerate(self.backbones)}
        if self.external is not None:
            listed = {}
        weighted = {("weights", name): name for name in self.weights}
        for key, name in {**listed, **weighted}.items():
            if name not in BACKBONES:
                raise ConfigProblem(f"{name!r} is not a backbone", choose(name, BACKBONES), key=key)
        return self

    @property
    def resources(self) -> ExtractionResources:
        """The speed-only keys (batch size, readers, device, CPU runtime), as extraction jobs get them."""
        return ExtractionResources(**{key: getattr(self, key) for key in RESOURCE_KEYS})

"""Patch features of slides at every scale with one backbone, the model loaded once per process.

Reader processes (DataLoader workers) decode regions and cut patches while the main process runs the
model; patches of all scales share batches because the backbone is the same. The three feature files
of a slide are written only once every patch has a finite feature, each through an atomic rename, so
a killed job leaves nothing that Snakemake would mistake for a result. A batch job of the workflow
featurises many slides with one :class:`Encoder`, so it starts Python, imports torch and loads the
weights once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from crossfusion_core.devices import Compute, CudaState, resolve_compute
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.features.backbones import BackboneSpec, backbone_spec, load_backbone
from crossfusion_core.features.feature_files import write_feature_file
from crossfusion_core.features.onnx_runtime import OnnxRuntimeEncoder, onnx_encoder
from crossfusion_core.features.patch_table import PatchTable, ScalePatches, read_patch_table
from crossfusion_core.features.reading import PatchBlock, PatchPixels, ReadFailure
from crossfusion_core.features.settings import ExtractionResources, FeatureSettings
from crossfusion_core.features.transforms import ModelInput
from crossfusion_core.scales import scale_of_group
from crossfusion_core.slide_batches import run_per_slide
from crossfusion_core.wsi.slide import SlideGeometry, slide_geometry

COPIED_SCALE_ATTRS = ("target_mpp", "level0_mpp")


@dataclass(frozen=True)
class Encoder:
    """A backbone ready to run: its registry entry, the model on its device, and how it computes."""

    spec: BackboneSpec
    model: torch.nn.Module | OnnxRuntimeEncoder
    compute: Compute


@dataclass(frozen=True)
class SlideToFeaturise:
    """One slide of a batch: its file, its patches file and its level-0 mpp override (or None)."""

    slide_path: Path
    patches_h5: Path
    mpp_override: float | None
    geometry: SlideGeometry | None = None
    """The slide's scale and pyramid when the caller knows them (benchmarks/bench_gpu_smoke.py, which
    writes its slide and runs without OpenSlide); else they are read from the slide's header."""


def load_encoder(
    backbone: str, settings: FeatureSettings, resources: ExtractionResources, threads: int
) -> Encoder:
    """The backbone with its weights on the device ``resources`` ask for, using ``threads`` CPU threads."""
    compute = extraction_compute(backbone, settings, resources)
    torch.set_num_threads(max(1, threads))
    spec, model = load_backbone(backbone, settings.weights)
    if resources.cpu_runtime == "onnxruntime" and compute == Compute(torch.device("cpu"), "fp32"):
        return Encoder(spec, onnx_encoder(spec.name, model, spec.transform.crop_px, threads), compute)
    return Encoder(spec, model.to(compute.device, memory_format=torch.channels_last), compute)


def extraction_compute(
    backbone: str, settings: FeatureSettings, resources: ExtractionResources, state: CudaState | None = None
) -> Compute:
    """``features.device`` and ``features.precision`` for ``backbone``; ``state`` as in
    :func:`crossfusion_core.devices.resolve_compute`.

    ``auto`` precision is the backbone's own on CUDA (``BackboneSpec.precision``), fp32 on the CPU.
    One precision for every backbone does not fit: bf16 keeps 8 bits of mantissa, and
    efficientnet_lite0's 20x features in bf16 drift to a cosine similarity of 0.977 on average (0.956
    at worst) from fp32, while the 20x scale carries fine nuclear detail; fp16 keeps 11 bits where a
    network's activations stay in its range. The registry holds TRIDENT's choice per model and our
    measurements (benchmarks/README.md, "Precision per backbone"). On a CPU with AVX512-BF16, bf16
    runs efficientnet_lite0 about twice as fast, but a CPU run, where extraction is a small share of
    the time, keeps fp32, and its features do not depend on which CPU made them. The precision used
    is written into every feature file.
    """
    gpu_precision = backbone_spec(backbone).precision
    return resolve_compute("features", resources.device, settings.precision, gpu_precision, state)


def extract_slide_features(
    slide_path: str | Path,
    patches_h5: str | Path,
    backbone: str,
    settings: FeatureSettings,
    mpp_override: float | None,
    out_paths: Mapping[int, str | Path],
    threads: int,
    resources: ExtractionResources | None = None,
) -> None:
    """Write `features/{backbone}/x{m}/{slide}.h5` for every magnification ``m`` in ``out_paths``.

    ``resources`` (batch size, reader processes, device) default to ``settings.resources``; the workflow
    passes its job's resources, which it keeps out of params so that editing them reruns nothing.
    """
    resources = resources or settings.resources
    encoder = load_encoder(backbone, settings, resources, threads)
    resources = resources.for_job(threads, encoder.compute.device.type)
    slide = SlideToFeaturise(Path(slide_path), Path(patches_h5), mpp_override)
    featurise_slide(encoder, slide, settings, resources, out_paths)


def extract_batch_features(
    slides: Mapping[str, SlideToFeaturise],
    backbone: str,
    settings: FeatureSettings,
    folder: str | Path,
    file_names: Mapping[str, str],
    threads: int,
    resources: ExtractionResources | None = None,
) -> list[str]:
    """Feature files of every slide of a batch into ``folder/{slide}/{file_names["x5" | "x10" | ...]}``,
    with one model load.

    A slide whose input is unusable gets its error in its folder instead (see
    :func:`crossfusion_core.slide_batches.run_per_slide`); returns the slides that failed.
    """
    resources = resources or settings.resources
    encoder = load_encoder(backbone, settings, resources, threads)
    resources = resources.for_job(threads, encoder.compute.device.type)
    return run_per_slide(
        folder,
        list(slides),
        lambda slide_id, slide_folder: featurise_slide(
            encoder,
            slides[slide_id],
            settings,
            resources,
            {scale_of_group(group).magnification: slide_folder / name for group, name in file_names.items()},
        ),
    )


def featurise_slide(
    encoder: Encoder,
    slide: SlideToFeaturise,
    settings: FeatureSettings,
    resources: ExtractionResources,
    out_paths: Mapping[int, str | Path],
) -> None:
    """One slide's feature files with a loaded encoder (see :func:`extract_slide_features`)."""
    table = read_patch_table(slide.patches_h5, out_paths.keys())
    features = [np.zeros((scale.count, encoder.spec.dim), np.float32) for scale in table.scales]
    if table.total:
        dataset = PatchPixels(
            slide.geometry or slide_geometry(slide.slide_path, slide.mpp_override),
            table,
            settings.read_strategy,
            settings.read_retries,
        )
        _encode_all(dataset, encoder, resources, features)
    for position, scale in enumerate(table.scales):
        write_feature_file(
            out_paths[scale.magnification],
            features[position],
            scale.coords_level0,
            _output_attrs(scale, encoder, slide.slide_path),
            scale.parent_index,
        )


def _encode_all(
    dataset: PatchPixels, encoder: Encoder, resources: ExtractionResources, features: list[np.ndarray]
) -> None:
    """Fill ``features`` (one array per scale) with the backbone's output for every patch of ``dataset``.

    The host never waits for the GPU inside the loop: a batch's features are copied to pinned host
    memory asynchronously and read (checked, scattered) ``IN_FLIGHT_BATCHES`` batches later, by which
    time the copy is done while the GPU works on the batches queued behind it.
    """
    model_input = ModelInput(encoder.spec.transform, encoder.compute.device)
    slide_name = dataset.geometry.path.stem
    progress = tqdm(total=dataset.table.total, unit="patch", desc=slide_name, mininterval=2.0)
    in_flight: deque[_HostFeatures] = deque()
    with progress, torch.inference_mode(), encoder.compute.autocast():
        blocks = _blocks(dataset, resources.num_workers, encoder.compute.device)
        for batch in _batches(blocks, resources.batch_size):
            in_flight.append(_HostFeatures.copied_from(batch, encoder.model(model_input(batch.pixels_rgb))))
            if len(in_flight) > IN_FLIGHT_BATCHES:
                progress.update(_store(in_flight.popleft(), features, dataset, encoder.spec))
        while in_flight:
            progress.update(_store(in_flight.popleft(), features, dataset, encoder.spec))


IN_FLIGHT_BATCHES = 2
"""Batches whose features are still on their way to the host while the next ones are computed."""


@dataclass(frozen=True)
class _HostFeatures:
    """A batch's features in host memory, or on their way there (``copied`` is their copy's CUDA event)."""

    batch: PatchBlock
    values: torch.Tensor
    copied: torch.cuda.Event | None

    @staticmethod
    def copied_from(batch: PatchBlock, out: torch.Tensor) -> _HostFeatures:
        if out.device.type != "cuda":
            return _HostFeatures(batch, out.float(), None)
        values = torch.empty(out.shape, dtype=torch.float32, pin_memory=True)
        values.copy_(out.float(), non_blocking=True)
        copied = torch.cuda.Event()
        copied.record()
        return _HostFeatures(batch, values, copied)

    def numpy(self) -> np.ndarray:
        if self.copied is not None:
            self.copied.synchronize()
        return self.values.numpy()


def _store(done: _HostFeatures, features: list[np.ndarray], dataset: PatchPixels, spec: BackboneSpec) -> int:
    """Check and scatter one batch's features into ``features``; returns how many patches it had."""
    values = done.numpy()
    _check_finite(values, done.batch, dataset.table, spec, dataset.geometry.path)
    _scatter(features, done.batch, values)
    return len(done.batch)


def _blocks(dataset: PatchPixels, num_workers: int, device: torch.device) -> Iterator[PatchBlock]:
    loader = DataLoader(
        dataset,
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if num_workers else None,
    )
    for block in loader:
        if isinstance(block, ReadFailure):
            raise block.error()
        yield block.to(device)


def _batches(blocks: Iterable[PatchBlock], batch_size: int) -> Iterator[PatchBlock]:
    """Regroup variable-size blocks into model batches of exactly ``batch_size`` (the last one smaller)."""
    pending: list[PatchBlock] = []
    count = 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        while count >= batch_size:
            merged = PatchBlock.concat(pending)
            yield merged.take(0, batch_size)
            rest = merged.take(batch_size)
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield PatchBlock.concat(pending)


def _check_finite(
    values: np.ndarray, batch: PatchBlock, table: PatchTable, spec: BackboneSpec, slide_path: Path
) -> None:
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad) == 0:
        return
    first = int(bad[0])
    scale = table.scales[int(batch.scale_positions[first])]
    x, y = (int(v) for v in scale.coords_level0[int(batch.rows[first])])
    raise PipelineInputError(
        slide_path,
        f"backbone {spec.name} produced NaN/inf features for {len(bad)} of {len(batch)} patches in a batch "
        f"(first: the {scale.magnification}x patch at level-0 x={x}, y={y}); the slide was stopped",
        "use features.precision fp32 or bf16 (fp16 can overflow) and check the backbone's weights file",
    )


def _scatter(features: list[np.ndarray], batch: PatchBlock, values: np.ndarray) -> None:
    positions = batch.scale_positions.numpy()
    rows = batch.rows.numpy()
    for position in np.unique(positions):
        mask = positions == position
        features[position][rows[mask]] = values[mask]


def _output_attrs(scale: ScalePatches, encoder: Encoder, slide_path: Path) -> dict[str, object]:
    attrs = {
        "patch_size": scale.patch_size_px,
        "patch_size_level0": scale.patch_size_level0,
        "target_magnification": scale.attrs["target_magnification"],
        "level0_magnification": scale.attrs["level0_magnification"],
        "encoder": encoder.spec.encoder_name,
        "backbone": encoder.spec.name,
        "precision": encoder.compute.precision,
        "slide_path": str(slide_path),
    }
    attrs.update({key: scale.attrs[key] for key in COPIED_SCALE_ATTRS if key in scale.attrs})
    return attrs

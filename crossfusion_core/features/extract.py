"""Patch features of one slide at every scale with one backbone.

Reader processes (DataLoader workers) decode regions and cut patches while the main process runs the
model; patches of all scales share batches because the backbone is the same. The three feature files
are written only once every patch has a finite feature, each through an atomic rename, so a killed job
leaves nothing that Snakemake would mistake for a result.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.features.backbones import BackboneSpec, backbone_spec, load_backbone
from crossfusion_core.features.feature_files import write_feature_file
from crossfusion_core.features.patch_table import PatchTable, ScalePatches, read_patch_table
from crossfusion_core.features.reading import PatchBlock, PatchPixels, ReadFailure
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.features.transforms import to_model_input
from crossfusion_core.wsi.slide import slide_geometry

AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
COPIED_SCALE_ATTRS = ("target_mpp", "level0_mpp")


def extract_slide_features(
    slide_path: str | Path,
    patches_h5: str | Path,
    backbone: str,
    settings: FeatureSettings,
    mpp_override: float | None,
    out_paths: Mapping[int, str | Path],
    threads: int,
) -> None:
    """Write `features/{backbone}/x{m}/{slide}.h5` for every magnification ``m`` in ``out_paths``."""
    slide_path = Path(slide_path)
    table = read_patch_table(patches_h5, out_paths.keys())
    spec = backbone_spec(backbone)
    features = [np.zeros((scale.count, spec.dim), np.float32) for scale in table.scales]
    if table.total:
        dataset = PatchPixels(
            slide_geometry(slide_path, mpp_override), table, settings.read_strategy, settings.read_retries
        )
        _encode_all(dataset, spec, settings, threads, features)
    for position, scale in enumerate(table.scales):
        write_feature_file(
            out_paths[scale.magnification],
            features[position],
            scale.coords_level0,
            _output_attrs(scale, spec, slide_path),
            scale.parent_index,
        )


def _encode_all(
    dataset: PatchPixels,
    spec: BackboneSpec,
    settings: FeatureSettings,
    threads: int,
    features: list[np.ndarray],
) -> None:
    """Fill ``features`` (one array per scale) with the backbone's output for every patch of ``dataset``."""
    device = _device(settings.device)
    torch.set_num_threads(max(1, threads))
    _, model = load_backbone(spec.name, settings.weights)
    model = model.to(device, memory_format=torch.channels_last)
    slide_path = dataset.geometry.path
    progress = tqdm(total=dataset.table.total, unit="patch", desc=slide_path.stem, mininterval=2.0)
    with progress, torch.inference_mode(), _autocast(device, settings.precision):
        for batch in _batches(_blocks(dataset, settings, device), settings.batch_size):
            out = model(to_model_input(batch.pixels_rgb, spec.transform)).float()
            _check_finite(out, batch, dataset.table, spec, slide_path)
            _scatter(features, batch, out)
            progress.update(len(batch))


def _device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise PipelineInputError(
            Path("config/config.yaml"), "features.device is cuda but no GPU is visible", "use device: auto"
        )
    return torch.device(requested)


def _autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast on CUDA by default (fast, no fp16 overflow); full fp32 on CPU unless asked."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    dtype = AUTOCAST_DTYPES.get(precision)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def _blocks(dataset: PatchPixels, settings: FeatureSettings, device: torch.device) -> Iterator[PatchBlock]:
    loader = DataLoader(
        dataset,
        batch_size=None,
        shuffle=False,
        num_workers=settings.num_workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if settings.num_workers else None,
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
    out: torch.Tensor, batch: PatchBlock, table: PatchTable, spec: BackboneSpec, slide_path: Path
) -> None:
    bad = (~torch.isfinite(out).all(dim=1)).nonzero().flatten()
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


def _scatter(features: list[np.ndarray], batch: PatchBlock, out: torch.Tensor) -> None:
    out_np = out.cpu().numpy()
    positions = batch.scale_positions.cpu().numpy()
    rows = batch.rows.cpu().numpy()
    for position in np.unique(positions):
        mask = positions == position
        features[position][rows[mask]] = out_np[mask]


def _output_attrs(scale: ScalePatches, spec: BackboneSpec, slide_path: Path) -> dict[str, object]:
    attrs = {
        "patch_size": scale.patch_size_px,
        "patch_size_level0": scale.patch_size_level0,
        "target_magnification": scale.attrs["target_magnification"],
        "level0_magnification": scale.attrs["level0_magnification"],
        "encoder": spec.encoder_name,
        "backbone": spec.name,
        "slide_path": str(slide_path),
    }
    attrs.update({key: scale.attrs[key] for key in COPIED_SCALE_ATTRS if key in scale.attrs})
    return attrs

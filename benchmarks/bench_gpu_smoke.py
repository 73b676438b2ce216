"""GPU smoke test: the pipeline's own extraction loop and fold training on CUDA, one command, offline.

    PYTHONPATH=. python benchmarks/bench_gpu_smoke.py            # a GPU node: full sizes, < 5 minutes
    PYTHONPATH=. python benchmarks/bench_gpu_smoke.py --small    # any machine: tiny sizes (the CPU if no GPU)

It needs PyTorch, timm, h5py, numpy, pandas, tifffile, scikit-learn and imagecodecs (the JPEG tiles),
nothing else: no network, no OpenSlide, scikit-survival, lifelines or Snakemake, and not the project's
venv (tests/test_bench_gpu_smoke.py runs ``--small`` with those packages blocked). Everything it reads
it writes first, under a temporary folder (``--keep DIR`` keeps it there).

1. Extraction, through the functions the workflow's job calls (``load_encoder``, then
   ``featurise_slide`` per slide): a JPEG-tiled pyramidal TIFF of synthetic tissue written with
   tifffile, its 5x/10x/20x patch grid, and a checkpoint of the backbone's registry architecture with
   random weights given as ``features.weights``. ``load_backbone`` loads that checkpoint strictly;
   reader processes (``num_workers: auto``) decode the tiles, pinned host buffers carry the patches to
   the GPU, the backbone runs in its registry precision (``features.precision: auto``), features come
   back to pinned memory without the host waiting, and the h5 feature files are written. Host syncs
   inside the loop are counted with ``torch.cuda.set_sync_debug_mode``. Full size: ``uni2_h`` (ViT-H,
   bf16), batches of 256, three slides of 1,344 patches; ``--small``: ``resnet50_trunc``, 21 patches.
2. Training, ``train_fold`` itself: a feature cohort written with the pipeline's feature-file writer
   (random features; full size 12 patients with bags of N5/N10/N20 = 1,000/4,000/16,000 of 1,024-dim
   features, CrossFusion at the paper's embed 512), trained twice for a few optimiser steps under the
   fold's strict deterministic mode: seconds, peak memory, and whether the two runs' predictions are
   bit-identical.

One JSON line per stage; the exit status is 1 if a stage failed (its line says why).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import tifffile
import torch

from crossfusion_core.data.splits import write_fold_splits
from crossfusion_core.features.backbones import backbone_spec
from crossfusion_core.features.extract import SlideToFeaturise, featurise_slide, load_encoder
from crossfusion_core.features.feature_files import read_feature_file, write_feature_file
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.scales import MAGNIFICATIONS, SCALES, children_per_side, magnification_for_mpp
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.loop import training_compute
from crossfusion_core.training.settings import TrainingSettings
from crossfusion_core.wsi.slide import SlideGeometry

SLIDE_MPP = 0.5
"""The synthetic scan is at 20x, so 20x patches are read at level 0 and 10x ones box-averaged from it."""
PATCH_SIZE_PX = 256
TILE_PX = 256
PYRAMID_DOWNSAMPLES = (1, 4, 16)
MICRONS_PER_CM = 10_000
SYNC_WARNING = "synchronizing CUDA operation"


@dataclass(frozen=True)
class Sizes:
    """How big each stage runs."""

    backbone: str
    slide_side_px: int
    n_slides: int
    batch_size: int
    n_patients: int
    n10_per_patient: int
    feature_dim: int
    embed_dim: int
    steps: int


FULL = Sizes("uni2_h", 8192, 3, 256, 12, 4000, 1024, 512, 8)
SMALL = Sizes("resnet50_trunc", 1024, 1, 8, 8, 24, 32, 32, 2)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_gb(device: torch.device) -> float:
    """Peak GPU memory allocated by tensors, or the process's peak resident memory on the CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


@contextmanager
def counted_host_syncs(device: torch.device) -> Iterator[list[str]]:
    """The warnings of CUDA operations that make the host wait, raised inside the block (CUDA only)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("warn")
        syncs: list[str] = []
        try:
            yield syncs
        finally:
            if device.type == "cuda":
                torch.cuda.set_sync_debug_mode("default")
    syncs += [str(w.message).splitlines()[0] for w in caught if SYNC_WARNING in str(w.message)]


def synthetic_tissue(side_px: int, seed: int) -> np.ndarray:
    """(side, side, 3) uint8: pink stroma with purple nuclei-sized speckle, a 2,048 px texture repeated
    (so that a large slide is made in seconds)."""
    rng = np.random.default_rng(seed)
    texture_px = min(side_px, 2048)
    coarse = rng.random((texture_px // 64, texture_px // 64, 1), dtype=np.float32)
    field = np.kron(coarse, np.ones((64, 64, 1), np.float32))
    speckle = rng.random((texture_px, texture_px, 1), dtype=np.float32) < 0.04
    pink, purple = np.array([230, 160, 200], np.float32), np.array([110, 60, 150], np.float32)
    rgb = pink * (1 - 0.4 * field) + np.where(speckle, purple - pink, np.float32(0))
    rgb += rng.normal(0, 6, rgb.shape).astype(np.float32)
    texture = np.clip(rgb, 0, 255).astype(np.uint8)
    repeats = -(-side_px // texture_px)
    return np.tile(texture, (repeats, repeats, 1))[:side_px, :side_px]


def write_slide(path: Path, side_px: int) -> SlideGeometry:
    """A generic pyramidal TIFF of JPEG tiles (as OpenSlide's generic-tiff driver reads) and its geometry."""
    rgb = synthetic_tissue(side_px, seed=0)
    levels = [rgb if d == 1 else _box_averaged(rgb, d) for d in PYRAMID_DOWNSAMPLES]
    with tifffile.TiffWriter(path) as tiff:
        for downsample, level in zip(PYRAMID_DOWNSAMPLES, levels, strict=True):
            pixels_per_cm = MICRONS_PER_CM / (SLIDE_MPP * downsample)
            tiff.write(
                level,
                tile=(TILE_PX, TILE_PX),
                photometric="rgb",
                compression="jpeg",
                compressionargs={"level": 85, "outcolorspace": "YCBCR"},
                subfiletype=0 if downsample == 1 else tifffile.FILETYPE.REDUCEDIMAGE,
                resolution=(pixels_per_cm, pixels_per_cm),
                resolutionunit=tifffile.RESUNIT.CENTIMETER,
                metadata=None,
            )
    return SlideGeometry(
        path=path,
        width_level0=side_px,
        height_level0=side_px,
        level0_mpp=SLIDE_MPP,
        level0_magnification=magnification_for_mpp(SLIDE_MPP),
        level_downsamples=tuple(float(d) for d in PYRAMID_DOWNSAMPLES),
        level_dimensions=tuple((level.shape[1], level.shape[0]) for level in levels),
        vendor="generic-tiff",
    )


def _box_averaged(rgb: np.ndarray, factor: int) -> np.ndarray:
    height, width = rgb.shape[0] // factor, rgb.shape[1] // factor
    blocks = rgb[: height * factor, : width * factor].reshape(height, factor, width, factor, 3)
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8)


def write_patches(path: Path, side_px: int) -> int:
    """Every 5x patch of the slide with its 10x and 20x children, in the patching stage's layout."""
    size_level0 = {s.magnification: round(PATCH_SIZE_PX * s.mpp / SLIDE_MPP) for s in SCALES}
    step = size_level0[SCALES[0].magnification]
    corners = [(x, y) for y in range(0, side_px - step + 1, step) for x in range(0, side_px - step + 1, step)]
    coords = {SCALES[0].magnification: np.array(corners, np.int64).reshape(-1, 2)}
    parents: dict[int, np.ndarray] = {}
    for coarse, fine in itertools.pairwise(SCALES):
        per_side = children_per_side(coarse, fine)
        offsets = [(dx, dy) for dy in range(per_side) for dx in range(per_side)]
        offsets_level0 = np.array(offsets, np.int64) * size_level0[fine.magnification]
        coords[fine.magnification] = (coords[coarse.magnification][:, None] + offsets_level0).reshape(-1, 2)
        parents[fine.magnification] = np.repeat(np.arange(len(coords[coarse.magnification])), len(offsets))
    with h5py.File(path, "w") as handle:
        for scale in SCALES:
            group = handle.create_group(scale.group)
            group.create_dataset("coords", data=coords[scale.magnification])
            if scale.magnification in parents:
                group.create_dataset("parent_index", data=parents[scale.magnification])
            group.attrs.update(
                patch_size=PATCH_SIZE_PX,
                patch_size_level0=size_level0[scale.magnification],
                target_magnification=scale.magnification,
                level0_magnification=20,
            )
    return sum(len(c) for c in coords.values())


def random_checkpoint(backbone: str, path: Path, device: torch.device) -> None:
    """The registry architecture's state dict with random weights, initialised on ``device``."""
    spec = backbone_spec(backbone)
    with torch.device("meta"):
        model = spec.architecture()
    model = model.to_empty(device=device)
    with torch.no_grad():
        for name, tensor in model.net.state_dict().items():
            _fill(name, tensor)
    torch.save({k: v.cpu() for k, v in model.net.state_dict().items()}, path)


def _fill(name: str, tensor: torch.Tensor) -> None:
    """Weights that keep activations at a unit scale through the depth (normal with variance 1 / fan-in),
    norms' scales and variances at 1, biases, means and counters at 0."""
    if not tensor.is_floating_point():
        tensor.zero_()
    elif name.endswith(("running_var", "gamma")) or (name.endswith("weight") and tensor.ndim == 1):
        tensor.fill_(1.0)
    elif name.endswith(("bias", "running_mean")):
        tensor.zero_()
    else:
        tensor.normal_(0.0, tensor[0].numel() ** -0.5 if tensor.ndim > 1 else 0.02)


def extraction(sizes: Sizes, work: Path, threads: int) -> dict:
    """The extraction job's functions on synthetic slides with a local random checkpoint."""
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    checkpoint = work / f"{sizes.backbone}.pth"
    random_checkpoint(sizes.backbone, checkpoint, torch.device(device_type))
    geometry = write_slide(work / "slide.tiff", sizes.slide_side_px)
    n_patches = write_patches(work / "patches.h5", sizes.slide_side_px)
    settings = FeatureSettings.from_mapping(
        {
            "backbones": [sizes.backbone],
            "weights": {sizes.backbone: str(checkpoint)},
            "batch_size": sizes.batch_size,
            "cpu_runtime": "torch",
        }
    )
    started = time.perf_counter()
    encoder = load_encoder(sizes.backbone, settings, settings.resources, threads)
    load_s = time.perf_counter() - started
    resources = settings.resources.for_job(threads, encoder.compute.device.type)
    slide = SlideToFeaturise(geometry.path, work / "patches.h5", None, geometry)
    seconds, syncs = [], []
    reset_peak(encoder.compute.device)
    for index in range(sizes.n_slides):
        outs = {m: work / "features" / f"x{m}" / f"SLIDE-{index}.h5" for m in MAGNIFICATIONS}
        started = time.perf_counter()
        with counted_host_syncs(encoder.compute.device) as found:
            featurise_slide(encoder, slide, settings, resources, outs)
        synchronize(encoder.compute.device)
        seconds.append(time.perf_counter() - started)
        syncs.append(len(found))
    written = [read_feature_file(path).features for path in outs.values()]
    return {
        "stage": "extraction",
        "backbone": f"{sizes.backbone} (random weights, loaded from a local checkpoint)",
        "device": str(encoder.compute.device),
        "precision": encoder.compute.precision,
        "reader_processes": resources.num_workers,
        "batch_size": sizes.batch_size,
        "model_load_s": round(load_s, 1),
        "patches_per_slide": n_patches,
        "patches_per_s_by_slide": [round(n_patches / s, 1) for s in seconds],
        "host_syncs_per_slide": syncs,
        "batches_per_slide": -(-n_patches // sizes.batch_size),
        "features_finite": bool(all(np.isfinite(f).all() for f in written)),
        "feature_shapes": [list(f.shape) for f in written],
        "peak_memory_gb": peak_memory_gb(encoder.compute.device),
    }


def write_feature_cohort(sizes: Sizes, work: Path) -> tuple[Path, dict[int, Path]]:
    """Survival table and 5x/10x/20x feature files of one slide per patient, with the pipeline's writer."""
    rng = np.random.default_rng(0)
    dirs = {m: work / "cohort" / f"x{m}" for m in MAGNIFICATIONS}
    rows = []
    for patient in range(sizes.n_patients):
        slide_id = f"SMOKE-P{patient:03d}-S1"
        counts = (sizes.n10_per_patient // 4, sizes.n10_per_patient, 4 * sizes.n10_per_patient)
        for scale, count in zip(SCALES, counts, strict=True):
            features = rng.standard_normal((count, sizes.feature_dim), dtype=np.float32)
            attrs = {
                "patch_size": PATCH_SIZE_PX,
                "patch_size_level0": PATCH_SIZE_PX,
                "target_magnification": scale.magnification,
                "level0_magnification": 20,
                "encoder": "smoke",
            }
            parents = None if scale is SCALES[0] else np.arange(count) // 4
            coords = np.zeros((count, 2), np.int64)
            write_feature_file(dirs[scale.magnification] / f"{slide_id}.h5", features, coords, attrs, parents)
        rows.append((f"SMOKE-P{patient:03d}", slide_id, float(rng.uniform(1, 100)), int(rng.random() < 0.3)))
    survival_csv = work / "cohort" / "survival.csv"
    pd.DataFrame(rows, columns=["case_id", "slide_id", "survival_months", "censorship"]).to_csv(
        survival_csv, index=False
    )
    return survival_csv, dirs


def training(sizes: Sizes, work: Path, threads: int) -> dict:
    """``train_fold`` twice on the same fold: timing, memory, and whether the two runs agree exactly."""
    survival_csv, dirs = write_feature_cohort(sizes, work)
    splits = [work / "cohort" / f"splits_{k}.csv" for k in range(2)]
    write_fold_splits(survival_csv, 2, 0, splits, n_bins=2)
    settings = TrainingSettings.from_mapping(
        {
            "models": ["crossfusion"],
            "n_bins": 2,
            "n_folds": 2,
            "steps": sizes.steps,
            "epochs": None,
            "grad_accumulation": 1,
            "device": "auto",
            "precision": "auto",
        }
    )
    options = {"embed_dim": sizes.embed_dim, "num_heads": 4, "num_layers": 1}
    device = training_compute(settings).device
    seconds, predictions = [], []
    for run in (1, 2):
        out = work / f"fold_run{run}"
        reset_peak(device)
        started = time.perf_counter()
        train_fold(
            settings, "crossfusion", options, survival_csv, splits[0], dirs, out, fold=0, threads=threads
        )
        synchronize(device)
        seconds.append(time.perf_counter() - started)
        predictions.append(pd.read_csv(out / "predictions.csv"))
    risk = [table["risk"].to_numpy() for table in predictions]
    return {
        "stage": "training",
        "model": f"crossfusion embed {sizes.embed_dim}, {sizes.feature_dim}-dim features",
        "device": str(device),
        "bag_sizes": [sizes.n10_per_patient // 4, sizes.n10_per_patient, 4 * sizes.n10_per_patient],
        "patients": sizes.n_patients,
        "steps": sizes.steps,
        "fold_s": [round(s, 1) for s in seconds],
        "predictions_identical": bool(np.array_equal(risk[0], risk[1])),
        "risk_finite": bool(np.isfinite(risk[0]).all()),
        "peak_memory_gb": peak_memory_gb(device),
    }


def report(stage: Callable[[], dict], name: str) -> bool:
    """Print the stage's JSON line (its error, if it failed); True when it ran."""
    try:
        print(json.dumps(stage()), flush=True)
        return True
    except Exception as error:  # a smoke test reports every failure and goes on to the next stage
        print(json.dumps({"stage": name, "error": f"{type(error).__name__}: {error}"}), flush=True)
        traceback.print_exc()
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes, on the CPU when there is no GPU")
    parser.add_argument(
        "--keep", type=Path, help="write the inputs and outputs here instead of a temp folder"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.small:
        parser.error("no GPU visible: run with --small to check the script on the CPU")
    sizes = SMALL if args.small else FULL
    threads = len(os.sched_getaffinity(0))
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                "torch": torch.__version__,
                "cpus": threads,
            }
        ),
        flush=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        ran = [
            report(lambda: extraction(sizes, work, threads), "extraction"),
            report(lambda: training(sizes, work, threads), "training"),
        ]
    sys.exit(0 if all(ran) else 1)


if __name__ == "__main__":
    main()

"""Feature extraction speed: the pixel data path alone, then with efficientnet_lite0 on the CPU.

Run by hand:  .venv/bin/python benchmarks/bench_feature_io.py [--tissue-um 3200] [--workers 2]

One synthetic 40x slide goes through the real pipeline stages (synthetic SVS -> tissue mask -> aligned
5x/10x/20x patches). Then, for all three scales:
  naive      one read_region per patch per scale in one process, at the best level, PIL-resized (CLAM)
  per_patch  our reader, one read per patch, in `--workers` DataLoader processes
  shared     our reader, one read per 5x family at 20x resolution, in `--workers` processes
  decode     JPEG decode of every level-0 tile under the patches, once each, one process: the floor
             for any full-quality 20x read of a 40x slide (x `--workers` gives the parallel floor)
Quality: PSNR of each strategy's patches against a float reference (level-0 pixels box-averaged in one
step, no intermediate rounding). Last, the whole extraction with efficientnet_lite0: patches/s and the
peak resident memory of the main process and of its reader processes.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image
from torch.utils.data import DataLoader

from crossfusion_core.features.extract import extract_slide_features
from crossfusion_core.features.patch_table import PatchTable, read_patch_table
from crossfusion_core.features.reading import PatchPixels
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.synthetic.cohort import cohort_plan
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.synthetic.slides import write_synthetic_slide
from crossfusion_core.wsi.patching import patch_slide
from crossfusion_core.wsi.segmentation import segment_slide
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings
from crossfusion_core.wsi.slide import open_slide, slide_geometry

MAGNIFICATIONS = (5, 10, 20)


def synthetic_40x_patches(workdir: Path, tissue_um: float) -> tuple[Path, Path]:
    """A 40x synthetic slide and its patches file, made by the pipeline's own stages."""
    settings = SyntheticSettings.from_mapping(
        {"n_patients": 1, "fraction_40x": 1.0, "tissue_size_um": [tissue_um, tissue_um]}
    )
    slide_id = cohort_plan(settings)[0].slide_id
    svs = workdir / f"{slide_id}.svs"
    write_synthetic_slide(settings, slide_id, svs, workdir / "truth.h5")
    segment_slide(svs, SegmentationSettings.from_mapping({}), None, workdir / "tissue.h5", workdir / "t.png")
    patches = workdir / "patches.h5"
    patch_slide(
        svs, workdir / "tissue.h5", PatchingSettings.from_mapping({}), None, patches, workdir / "p.png"
    )
    return svs, patches


def naive_loop(svs: Path, table: PatchTable) -> float:
    """Seconds for one read_region per patch per scale in this process, as CLAM's Whole_Slide_Bag_FP."""
    geometry = slide_geometry(svs)
    slide = open_slide(svs)
    started = time.perf_counter()
    for scale in table.scales:
        level = geometry.best_level_for_mpp(
            scale.patch_size_level0 / scale.patch_size_px * geometry.level0_mpp
        )
        side = round(scale.patch_size_level0 / geometry.level_downsamples[level])
        for x, y in scale.coords_level0.tolist():
            region = slide.read_region((x, y), level, (side, side)).convert("RGB")
            region.resize((scale.patch_size_px, scale.patch_size_px), Image.Resampling.BOX)
    slide.close()
    return time.perf_counter() - started


def our_reader(svs: Path, table: PatchTable, strategy: str, workers: int) -> tuple[float, dict]:
    """Seconds to produce every patch with our reader, and the patches themselves (for quality)."""
    dataset = PatchPixels(slide_geometry(svs), table, strategy)
    patches: dict[tuple[int, int], np.ndarray] = {}
    started = time.perf_counter()
    for block in DataLoader(
        dataset, batch_size=None, num_workers=workers, prefetch_factor=4 if workers else None
    ):
        for position, row, pixels in zip(
            block.scale_positions.tolist(), block.rows.tolist(), block.pixels_rgb
        ):
            patches[(position, row)] = pixels.numpy()
    return time.perf_counter() - started, patches


def decode_floor(svs: Path, table: PatchTable) -> tuple[float, int]:
    """Seconds to JPEG-decode, once each, the level-0 tiles under all patches; and how many tiles."""
    with tifffile.TiffFile(svs) as tiff:
        page = tiff.pages[0]
        tile = page.tilewidth
        across = math.ceil(page.imagewidth / tile)
        touched = set()
        for scale in table.scales:
            for x, y in scale.coords_level0.tolist():
                last = scale.patch_size_level0 - 1
                for row in range(y // tile, (y + last) // tile + 1):
                    for col in range(x // tile, (x + last) // tile + 1):
                        touched.add(row * across + col)
        handle = tiff.filehandle
        encoded = []
        for index in sorted(touched):
            handle.seek(page.dataoffsets[index])
            encoded.append((handle.read(page.databytecounts[index]), index))
        started = time.perf_counter()
        for data, index in encoded:
            page.decode(data, index, jpegtables=page.jpegtables)
        return time.perf_counter() - started, len(touched)


def psnr_against_reference(svs: Path, table: PatchTable, patches: dict, sample: int = 24) -> dict[int, float]:
    """PSNR (dB) per magnification of ``patches`` against a float box average of level-0 pixels."""
    slide = open_slide(svs)
    result = {}
    for position, scale in enumerate(table.scales):
        rows = np.linspace(0, scale.count - 1, min(sample, scale.count)).astype(int)
        errors = []
        for row in rows:
            x, y = scale.coords_level0[row].tolist()
            size = scale.patch_size_level0
            level0 = np.asarray(slide.read_region((x, y), 0, (size, size)).convert("RGB"), dtype=np.float64)
            factor = size // scale.patch_size_px
            reference = level0.reshape(scale.patch_size_px, factor, scale.patch_size_px, factor, 3).mean(
                axis=(1, 3)
            )
            errors.append(np.mean((patches[(position, int(row))].astype(np.float64) - reference) ** 2))
        result[scale.magnification] = round(10 * math.log10(255**2 / max(np.mean(errors), 1e-12)), 2)
    slide.close()
    return result


def with_model(svs: Path, patches: Path, strategy: str, workers: int, threads: int, workdir: Path) -> dict:
    """Whole extraction with efficientnet_lite0 on the CPU: patches/s and peak memory (MiB)."""
    settings = FeatureSettings.from_mapping(
        {"num_workers": workers, "read_strategy": strategy, "device": "cpu"}
    )
    outs = {m: workdir / "features" / strategy / f"x{m}" / "slide.h5" for m in MAGNIFICATIONS}
    started = time.perf_counter()
    extract_slide_features(svs, patches, "efficientnet_lite0", settings, None, outs, threads)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "main_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "reader_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "seconds_per_patch": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tissue-um", type=float, default=3200.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        svs, patches_h5 = synthetic_40x_patches(workdir, args.tissue_um)
        table = read_patch_table(patches_h5, MAGNIFICATIONS)
        n = table.total
        report: dict[str, object] = {"patches": {s.magnification: s.count for s in table.scales}}
        report["naive_patches_per_s"] = round(n / naive_loop(svs, table), 1)
        quality = {}
        for strategy in ("per_patch", "shared"):
            for workers in sorted({0, args.workers}):
                seconds, pixels = our_reader(svs, table, strategy, workers)
                report[f"{strategy}_{workers}workers_patches_per_s"] = round(n / seconds, 1)
            quality[strategy] = psnr_against_reference(svs, table, pixels)
        seconds, tiles = decode_floor(svs, table)
        report["decode_floor_1proc_patches_per_s"] = round(n / seconds, 1)
        report["decode_floor_tiles"] = tiles
        report["psnr_db_vs_float_reference"] = quality
        if not args.skip_model:
            torch.set_num_threads(args.threads)
            for strategy in ("shared", "per_patch"):
                run = with_model(svs, patches_h5, strategy, args.workers, args.threads, workdir)
                run["patches_per_s"] = round(n / run.pop("seconds_per_patch"), 1)
                report[f"efficientnet_lite0_cpu_{strategy}"] = run
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

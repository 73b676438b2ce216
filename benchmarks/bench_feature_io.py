"""Feature extraction speed: the pixel data path alone, then with efficientnet_lite0 on the CPU.

Run by hand:  .venv/bin/python benchmarks/bench_feature_io.py [--tissue-um 3200] [--workers 2]

One synthetic 40x slide goes through the real pipeline stages (synthetic SVS -> tissue mask -> aligned
5x/10x/20x patches). Then, for all three scales, in interleaved rounds (best of `--repeats`):
  naive      one read_region per patch per scale in one process, at the best level, PIL-resized (CLAM)
  per_patch  our reader, one read per patch, in 0 and `--workers` DataLoader processes
  shared     our reader through OpenSlide, one read per 10x patch at 20x resolution giving it and its
             four 20x patches, 5x patches read at their own level, in 0 and `--workers` processes
  tiles      our reader decoding the SVS's JPEG tiles itself, each once, same patches as `shared`
  decode     JPEG decode of every level-0 tile under the patches, once each, bytes read beforehand, one
             process: the floor for any full-quality 20x read of a 40x slide
Each reader's blocks are consumed as extraction does (every page touched, then let go). Reported per
variant: patches per wall second; patches per CPU-second (this process and its reader processes); the
share of the `--workers`-process floor (the floor's wall time over `--workers` x the reader's), and the
same ratio in CPU time, which the other sessions on a shared machine do not distort. Quality: PSNR of
each strategy's patches against a float reference (level-0 pixels box-averaged in one step) and of
`tiles` against `shared` (OpenSlide's pixels). Last, the whole extraction with efficientnet_lite0:
patches/s and the peak resident memory of the main process and of its reader processes.

Results with machine, date and load: benchmarks/README.md, "Feature extraction data path".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from torch.utils.data import DataLoader

from crossfusion_core.features.patch_table import PatchTable, read_patch_table
from crossfusion_core.features.reading import PatchBlock, PatchPixels
from crossfusion_core.scales import MAGNIFICATIONS
from crossfusion_core.synthetic.cohort import cohort_plan
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.synthetic.slides import write_synthetic_slide
from crossfusion_core.wsi.patching import SlideWsiFiles, segment_and_patch
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings
from crossfusion_core.wsi.slide import open_slide, slide_geometry

STRATEGIES = ("per_patch", "shared", "tiles")


def synthetic_40x_patches(workdir: Path, tissue_um: float) -> tuple[Path, Path]:
    """A 40x synthetic slide and its patches file, made by the pipeline's own stages."""
    settings = SyntheticSettings.from_mapping(
        {"n_patients": 1, "fraction_40x": 1.0, "tissue_size_um": [tissue_um, tissue_um]}
    )
    slide_id = cohort_plan(settings)[0].slide_id
    svs = workdir / f"{slide_id}.svs"
    write_synthetic_slide(settings, slide_id, svs, workdir / "truth.h5")
    patches = workdir / "patches.h5"
    files = SlideWsiFiles(workdir / "tissue.h5", workdir / "t.png", patches, workdir / "p.png")
    segment_and_patch(svs, SegmentationSettings(), PatchingSettings(), None, files)
    return svs, patches


def naive_loop(svs: Path, table: PatchTable) -> None:
    """One read_region per patch per scale in this process, as CLAM's Whole_Slide_Bag_FP."""
    geometry = slide_geometry(svs)
    slide = open_slide(svs)
    for scale in table.scales:
        level = geometry.best_level_for_mpp(
            scale.patch_size_level0 / scale.patch_size_px * geometry.level0_mpp
        )
        side = round(scale.patch_size_level0 / geometry.level_downsamples[level])
        for x, y in scale.coords_level0.tolist():
            region = slide.read_region((x, y), level, (side, side)).convert("RGB")
            region.resize((scale.patch_size_px, scale.patch_size_px), Image.Resampling.BOX)
    slide.close()


def our_blocks(svs: Path, table: PatchTable, strategy: str, workers: int) -> Iterator[PatchBlock]:
    """The blocks of our reader as extraction receives them."""
    dataset = PatchPixels(slide_geometry(svs), table, strategy)
    yield from DataLoader(
        dataset, batch_size=None, num_workers=workers, prefetch_factor=4 if workers else None
    )


def read_all(svs: Path, table: PatchTable, strategy: str, workers: int) -> None:
    """Every patch read and each of its memory pages touched, then let go, as the model's input step
    would (holding the blocks would keep the reader processes from reusing their buffers)."""
    for block in our_blocks(svs, table, strategy, workers):
        block.pixels_rgb.view(-1)[::4096].sum()


def our_patches(svs: Path, table: PatchTable, strategy: str) -> dict[tuple[int, int], np.ndarray]:
    """Every patch from our reader in this process, keyed by (scale position, row)."""
    patches = {}
    for block in our_blocks(svs, table, strategy, 0):
        for position, row, pixels in zip(
            block.scale_positions.tolist(), block.rows.tolist(), block.pixels_rgb.numpy(), strict=True
        ):
            patches[(position, row)] = pixels
    return patches


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process plus reader processes it reaped) of ``run()``."""

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, cpu_before = time.perf_counter(), cpu()
    run()
    return time.perf_counter() - wall, cpu() - cpu_before


def reader_speeds(svs: Path, table: PatchTable, workers: int, repeats: int) -> dict[str, dict[str, float]]:
    """Patches/s per variant, best of ``repeats`` interleaved runs (the machine is shared and noisy)."""
    variants: dict[str, Callable[[], object]] = {"naive": lambda: naive_loop(svs, table)}
    for strategy in STRATEGIES:
        for n_workers in sorted({0, workers}):
            variants[f"{strategy}_{n_workers}workers"] = partial(read_all, svs, table, strategy, n_workers)
    variants["decode_floor_1proc"], _ = decode_floor(svs, table)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):
        for name, run in variants.items():
            wall, cpu = timed(run)
            previous = best.get(name, (math.inf, math.inf))
            best[name] = (min(previous[0], wall), min(previous[1], cpu))
    floor_wall, floor_cpu = best["decode_floor_1proc"]
    return {
        name: {
            "wall_patches_per_s": round(table.total / wall, 1),
            "patches_per_cpu_s": round(table.total / cpu, 1),
            f"share_of_{workers}proc_floor": round(floor_wall / (workers * wall), 3),
            "cpu_share_of_floor": round(floor_cpu / cpu, 3),
        }
        for name, (wall, cpu) in best.items()
    }


def decode_floor(svs: Path, table: PatchTable) -> tuple[Callable[[], None], int]:
    """JPEG decode, once each, of the level-0 tiles under all patches (bytes read beforehand), and how
    many tiles that is: the floor for any full-quality read of the 20x patches of a 40x slide."""
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
        decode, tables = page.decode, page.jpegtables

    def run() -> None:
        for data, index in encoded:
            decode(data, index, jpegtables=tables)

    return run, len(encoded)


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


def psnr_between(table: PatchTable, patches: dict, reference: dict) -> dict[int, float]:
    """PSNR (dB) per magnification of one reader's patches against another's; inf where identical."""
    result = {}
    for position, scale in enumerate(table.scales):
        errors = [
            np.mean((patches[(position, row)].astype(np.float64) - reference[(position, row)]) ** 2)
            for row in range(scale.count)
        ]
        mse = float(np.mean(errors)) if errors else 0.0
        result[scale.magnification] = round(10 * math.log10(255**2 / mse), 2) if mse else math.inf
    return result


MODEL_RUN = """
import json, resource, sys, time
from pathlib import Path
from crossfusion_core.features.extract import extract_slide_features
from crossfusion_core.features.settings import FeatureSettings
svs, patches, out, strategy, workers, threads = sys.argv[1:7]
settings = FeatureSettings.from_mapping(
    {"num_workers": int(workers), "read_strategy": strategy, "device": "cpu"}
)
outs = {m: Path(out) / f"x{m}" / "slide.h5" for m in (5, 10, 20)}
started = time.perf_counter()
extract_slide_features(svs, patches, "efficientnet_lite0", settings, None, outs, int(threads))
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "main_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "reader_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def with_model(svs: Path, patches: Path, strategy: str, workers: int, threads: int, workdir: Path) -> dict:
    """Whole extraction with efficientnet_lite0 on the CPU in a fresh process: seconds and peak memory."""
    out = workdir / "features" / strategy
    command = [sys.executable, "-c", MODEL_RUN, str(svs), str(patches), str(out), strategy, str(workers)]
    finished = subprocess.run([*command, str(threads)], capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tissue-um", type=float, default=3200.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        svs, patches_h5 = synthetic_40x_patches(workdir, args.tissue_um)
        table = read_patch_table(patches_h5, MAGNIFICATIONS)
        n = table.total
        report: dict[str, object] = {"patches": {s.magnification: s.count for s in table.scales}}
        report["load_average_before"] = os.getloadavg()
        report["readers"] = reader_speeds(svs, table, args.workers, args.repeats)
        report["load_average_after"] = os.getloadavg()
        report["decode_floor_tiles"] = decode_floor(svs, table)[1]
        pixels = {strategy: our_patches(svs, table, strategy) for strategy in STRATEGIES}
        report["psnr_db_vs_float_reference"] = {
            strategy: psnr_against_reference(svs, table, patches) for strategy, patches in pixels.items()
        }
        report["psnr_db_tiles_vs_openslide_shared"] = psnr_between(table, pixels["tiles"], pixels["shared"])
        if not args.skip_model:
            for strategy in ("tiles", "shared"):
                run = with_model(svs, patches_h5, strategy, args.workers, args.threads, workdir)
                run["patches_per_s"] = n / run["seconds"]
                report[f"efficientnet_lite0_cpu_{strategy}"] = {k: round(v, 1) for k, v in run.items()}
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

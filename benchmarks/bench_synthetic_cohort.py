"""Time to generate, segment and patch the default 48-patient synthetic cohort (run by hand).

    .venv/bin/python benchmarks/bench_synthetic_cohort.py [out_dir] [n_processes]

Target (brief): slides generated in under ~90 s on 2 cores; 30-80 10x patches per slide.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from crossfusion_core.synthetic.cohort import SyntheticSettings, cohort_plan
from crossfusion_core.synthetic.slides import write_synthetic_slide
from crossfusion_core.wsi.patching import SlideWsiFiles, segment_and_patch
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings


def make(slide_id: str, folder: Path) -> str:
    write_synthetic_slide(
        SyntheticSettings(), slide_id, folder / f"{slide_id}.svs", folder / f"{slide_id}.h5"
    )
    return slide_id


def patch(slide_id: str, folder: Path) -> int:
    files = SlideWsiFiles(*(folder / f"{slide_id}.{name}" for name in ("mask.h5", "mask.png", "p.h5", "png")))
    grids = segment_and_patch(
        folder / f"{slide_id}.svs", SegmentationSettings(), PatchingSettings(), None, files
    )
    return len(grids.source.coords_level0)


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    folder.mkdir(parents=True, exist_ok=True)
    ids = [s.slide_id for s in cohort_plan(SyntheticSettings())]
    with ProcessPoolExecutor(workers) as pool:
        start = time.perf_counter()
        list(pool.map(make, ids, [folder] * len(ids)))
        generated = time.perf_counter()
        counts = list(pool.map(patch, ids, [folder] * len(ids)))
        done = time.perf_counter()
    print(f"{len(ids)} slides generated in {generated - start:.1f} s with {workers} processes")
    print(f"segmented and patched in {done - generated:.1f} s")
    print(
        f"10x patches per slide: min {min(counts)}, "
        f"median {sorted(counts)[len(counts) // 2]}, max {max(counts)}"
    )


if __name__ == "__main__":
    main()

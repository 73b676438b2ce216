"""How long listing a cohort's slides takes at DAG-build time (target: well under a second per cohort).

Run by hand: ``.venv/bin/python benchmarks/bench_tcga_manifest.py``. Snakemake calls
``slide_ids_from_manifest`` every time it builds the DAG, so it must stay cheap for 1,000+ slides.
"""

from __future__ import annotations

import time
from pathlib import Path

from crossfusion_core.tcga.manifest import diagnostic_slides, slide_ids_from_manifest

MANIFESTS = Path(__file__).resolve().parents[1] / "config" / "tcga" / "gdc_manifests"
REPEATS = 5


def main() -> None:
    for path in sorted(MANIFESTS.glob("gdc_manifest_*.csv")):
        start = time.perf_counter()
        for _ in range(REPEATS):
            n_slides = len(diagnostic_slides(path).slides)
        parse_ms = (time.perf_counter() - start) / REPEATS * 1000
        slide_ids_from_manifest(path)
        start = time.perf_counter()
        for _ in range(REPEATS):
            slide_ids_from_manifest(path)
        cached_ms = (time.perf_counter() - start) / REPEATS * 1000
        print(f"{path.name:28s} {n_slides:5d} slides  parse {parse_ms:7.1f} ms  cached {cached_ms:6.2f} ms")


if __name__ == "__main__":
    main()

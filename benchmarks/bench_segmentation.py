"""What one segmentation job costs: tiatoolbox's import and the work on one slide (run by hand).

    .venv/bin/python benchmarks/bench_segmentation.py [rounds]

Each variant runs in a fresh interpreter, as a Snakemake job does, and the variants are interleaved
round by round so that a busy machine slows them alike. ``package import`` is what segmentation did
before: ``import tiatoolbox.tools.tissuemask``, which runs ``tiatoolbox/tools/__init__.py`` and so
imports every tool. ``masker module`` is what it does now (``_tissuemask_module``). The slide is the
first slide of the default synthetic cohort (the demo's), segmented at the default settings.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from crossfusion_core.synthetic.cohort import SyntheticSettings, cohort_plan
from crossfusion_core.synthetic.slides import write_synthetic_slide

IMPORTS = {
    "package import": "import tiatoolbox.tools.tissuemask",
    "masker module": (
        "from crossfusion_core.wsi.segmentation import _tissuemask_module\n_tissuemask_module()"
    ),
}
JOB = """
    import time
    start = time.perf_counter()
    {imports}
    from crossfusion_core.wsi.segmentation import segment_slide
    from crossfusion_core.wsi.settings import SegmentationSettings
    imported = time.perf_counter()
    segment_slide({slide!r}, SegmentationSettings(), None, {mask!r}, {png!r})
    print(imported - start, time.perf_counter() - imported)
"""


def job_seconds(imports: str, slide: Path, folder: Path) -> tuple[float, float, float]:
    """(process wall, import, segmentation) seconds of one fresh-interpreter segmentation job."""
    script = JOB.format(
        imports=imports.replace("\n", "\n    "),
        slide=str(slide),
        mask=str(folder / "mask.h5"),
        png=str(folder / "mask.png"),
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    import_s, segment_s = map(float, done.stdout.split()[-2:])
    return wall, import_s, segment_s


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    folder = Path(tempfile.mkdtemp())
    slide_id = cohort_plan(SyntheticSettings())[0].slide_id
    slide = folder / f"{slide_id}.svs"
    write_synthetic_slide(SyntheticSettings(), slide_id, slide, folder / "truth.h5")
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in IMPORTS}
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}")
    for _ in range(rounds):
        for name, imports in IMPORTS.items():
            times[name].append(job_seconds(imports, slide, folder))
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print("variant | job wall s | import s | segment_slide s  (median of", rounds, "rounds)")
    for name, rows in times.items():
        wall, import_s, segment_s = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{name} | {wall:.2f} | {import_s:.2f} | {segment_s:.2f}")


if __name__ == "__main__":
    main()

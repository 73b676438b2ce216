"""benchmarks/bench_gpu_smoke.py runs on a bare PyTorch stack: only the packages benchmarks/README.md names.

Building a fresh venv per test run is too slow here, so the run gets a bare one made of links: a folder
holding only those packages and their own requirements (as the installed metadata lists them), on the
path of an interpreter started without site-packages (``python -S``). OpenSlide, scikit-survival,
lifelines, Snakemake, OpenCV, tiatoolbox, ONNX Runtime and every optional extra the allowed packages
would pick up are then simply not installed there. The smoke test's ``--small`` sizes run to completion
on the CPU, through the same code as on a GPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from reference_data import REPO

ALLOWED = ("torch", "timm", "h5py", "numpy", "pandas", "tifffile", "scikit-learn", "imagecodecs", "pydantic")
"""What a GPU node has: benchmarks/README.md, "GPU smoke test" (imagecodecs is the one extra wheel;
pydantic validates the config sections the smoke test builds)."""
FORBIDDEN = ("openslide", "tiatoolbox", "sksurv", "lifelines", "snakemake", "cv2", "onnxruntime")

RUN_ON_BARE_STACK = """
import importlib.util, json, runpy, sys
sys.path[0:0] = [BARE, REPO]
present = [name for name in FORBIDDEN if importlib.util.find_spec(name) is not None]
print("BARE-STACK " + json.dumps({"forbidden_present": present}), flush=True)
sys.argv = ["bench_gpu_smoke.py", "--small"]
runpy.run_path("benchmarks/bench_gpu_smoke.py", run_name="__main__")
"""


def requirement_closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and everything they require (extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [canonicalize_name(name) for name in names]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            found[name] = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for requirement in map(Requirement, found[name].requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return list(found.values())


def bare_site_packages(folder: Path, distributions: list[metadata.Distribution]) -> Path:
    """``folder`` with a link to every top-level entry (package, module, bundled libraries, metadata)
    of ``distributions``, and nothing else."""
    folder.mkdir()
    for distribution in distributions:
        site = Path(distribution.locate_file(""))
        files = [Path(file) for file in distribution.files or [] if ".." not in Path(file).parts]
        for entry in {file.parts[0] for file in files}:
            if not (folder / entry).exists():
                (folder / entry).symlink_to(site / entry)
    return folder


def test_smoke_runs_to_completion_with_only_the_named_packages(tmp_path: Path) -> None:
    bare = bare_site_packages(tmp_path / "site-packages", requirement_closure(ALLOWED))
    code = f"BARE, REPO, FORBIDDEN = {str(bare)!r}, {str(REPO)!r}, {FORBIDDEN!r}\n" + RUN_ON_BARE_STACK
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    bare_stack = json.loads(next(line for line in lines if line.startswith("BARE-STACK ")).split(" ", 1)[1])
    assert bare_stack == {"forbidden_present": []}
    records = [json.loads(line) for line in lines if line.startswith("{")]
    stages = {record["stage"]: record for record in records if "stage" in record}
    assert stages["extraction"]["features_finite"] and stages["extraction"]["host_syncs_per_slide"] == [0]
    assert stages["extraction"]["feature_shapes"] == [[1, 1024], [4, 1024], [16, 1024]]
    assert stages["training"]["predictions_identical"] and stages["training"]["risk_finite"]

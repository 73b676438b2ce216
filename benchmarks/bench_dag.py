"""How long Snakemake takes to build the DAG of a 1,000-slide cohort x 5 folds x 3 models (dry run).

No slide exists and none is opened: the slide list comes from a GDC manifest written here, so this
measures only the workflow's own DAG-time work (config checks, input functions, manifest parsing).
Target: under 20 s on 2 cores. Run: .venv/bin/python benchmarks/bench_dag.py [n_slides]
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_manifest(path: Path, n_slides: int) -> None:
    rows = ["id\tfilename\tmd5\tsize\tstate"]
    for i in range(n_slides):
        file_id = uuid.UUID(int=i + 1)
        name = f"TCGA-XX-{i:04d}-01Z-00-DX1.{str(uuid.UUID(int=10**9 + i)).upper()}.svs"
        rows.append(f"{file_id}\t{name}\t{hashlib.md5(name.encode()).hexdigest()}\t1000\treleased")
    path.write_text("\n".join(rows) + "\n")


def main(n_slides: int = 1000) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        write_manifest(workdir / "manifest.tsv", n_slides)
        overlay = {
            "cohort": "dag_benchmark",
            "dataset": {
                "kind": "tcga",
                "project": "TCGA-XX",
                "manifest": "manifest.tsv",
                "data_dir": "slides",
            },
            "training": {"models": ["crossfusion", "abmil", "transmil"], "n_folds": 5},
        }
        (workdir / "overlay.yaml").write_text(yaml.safe_dump(overlay))
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "overlay.yaml"),
            "--dry-run",
            "--quiet",
            "rules",
            "--cores",
            "1",
            "all",
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - start
    total = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("total"))
    print(
        f"{n_slides} slides, 5 folds, 3 models: {total} jobs planned in {elapsed:.1f} s (dry run, wall clock)"
    )


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))

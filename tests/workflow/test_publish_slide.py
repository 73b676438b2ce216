"""workflow_scripts/publish_slide.sh: a per-slide job takes its slide's files from its batch's folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from snakemake_runs import REPO

SCRIPT = REPO / "workflow_scripts" / "publish_slide.sh"


def _slide_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "batches" / "b3" / "SLIDE"
    folder.mkdir(parents=True)
    (folder / "job.log").write_text("INFO slide 1 of 1: SLIDE\n")
    (folder / "patches.h5").write_bytes(b"patches")
    (folder / "mask.h5").write_bytes(b"mask")
    old = folder.stat().st_mtime - 60
    for path in folder.iterdir():
        os.utime(path, (old, old))
    return folder


def _publish(folder: Path, log: Path, *pairs: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), str(folder), str(log), *pairs], capture_output=True, text=True
    )


def test_files_are_hard_links_newer_than_the_batch_and_the_log_is_copied(tmp_path: Path):
    folder = _slide_folder(tmp_path)
    written = (folder / "patches.h5").stat().st_mtime
    patches, mask, log = (
        tmp_path / "patches" / "SLIDE.h5",
        tmp_path / "tissue" / "SLIDE.h5",
        tmp_path / "x.log",
    )
    patches.parent.mkdir()
    mask.parent.mkdir()
    done = _publish(folder, log, f"patches.h5={patches}", f"mask.h5={mask}")
    assert done.returncode == 0, done.stderr
    assert patches.read_bytes() == b"patches" and mask.read_bytes() == b"mask"
    assert patches.stat().st_ino == (folder / "patches.h5").stat().st_ino
    assert patches.stat().st_mtime > written + 30
    assert log.read_text() == "INFO slide 1 of 1: SLIDE\n"


def test_a_failed_slide_fails_its_job_with_the_error_and_publishes_nothing(tmp_path: Path):
    folder = _slide_folder(tmp_path)
    (folder / "error.txt").write_text("SLIDE.svs: slide is damaged or truncated. Fix: download it again\n")
    patches, log = tmp_path / "SLIDE.h5", tmp_path / "x.log"
    done = _publish(folder, log, f"patches.h5={patches}")
    assert done.returncode == 1
    assert "SLIDE.svs: slide is damaged or truncated" in done.stderr
    assert log.exists() and not patches.exists()

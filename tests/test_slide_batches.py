"""Batches of slides: a slide's batch follows from its id alone, and one bad slide stops only itself."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from crossfusion_core.errors import SlideReadError
from crossfusion_core.slide_batches import SLIDE_ERROR, SLIDE_LOG, batch_of, run_per_slide, slides_by_batch

SLIDES = [f"TCGA-AA-{i:04d}-01Z-00-DX1" for i in range(200)]


def test_a_slide_keeps_its_batch_when_others_leave_or_join():
    batches = slides_by_batch(SLIDES, 16)
    smaller = slides_by_batch(SLIDES[:150] + SLIDES[151:], 16)
    larger = slides_by_batch([*SLIDES, "TCGA-ZZ-9999-01Z-00-DX1"], 16)
    changed = {batch for batch in batches if batches[batch] != smaller.get(batch)}
    assert changed == {batch_of(SLIDES[150], 16)}
    changed = {batch for batch in larger if larger[batch] != batches.get(batch)}
    assert changed == {batch_of("TCGA-ZZ-9999-01Z-00-DX1", 16)}


def test_batches_cover_every_slide_once_in_cohort_order():
    batches = slides_by_batch(SLIDES, 16)
    assert sorted(slide for slides in batches.values() for slide in slides) == sorted(SLIDES)
    for slides in batches.values():
        assert slides == sorted(slides, key=SLIDES.index)
    assert len(batches) == 16 and all(batch.startswith("b") and len(batch) == 3 for batch in batches)
    assert max(map(len, batches.values())) < 2 * len(SLIDES) / 16


def test_the_batch_is_the_same_in_another_interpreter():
    """Python's own hash() is salted per process; a batch must not be."""
    code = "from crossfusion_core.slide_batches import batch_of; print(batch_of('SYN-P0001-S1', 8))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == batch_of("SYN-P0001-S1", 8)


def test_an_unusable_slide_gets_its_error_and_the_batch_goes_on(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO)
    done = []

    def work(slide_id: str, folder: Path) -> None:
        logging.getLogger("crossfusion.test").info("working on %s", slide_id)
        if slide_id == "BAD":
            raise SlideReadError(folder / "BAD.svs", "slide is damaged or truncated", "download it again")
        (folder / "out.txt").write_text(slide_id)
        done.append(slide_id)

    failed = run_per_slide(tmp_path, ["A", "BAD", "C"], work)
    assert failed == ["BAD"] and done == ["A", "C"]
    error = (tmp_path / "BAD" / SLIDE_ERROR).read_text()
    assert "BAD.svs: slide is damaged or truncated" in error and "download it again" in error
    assert not (tmp_path / "A" / SLIDE_ERROR).exists()
    assert "working on A" in (tmp_path / "A" / SLIDE_LOG).read_text()
    assert "working on C" not in (tmp_path / "A" / SLIDE_LOG).read_text()
    assert "Traceback" in (tmp_path / "BAD" / SLIDE_LOG).read_text()


def test_a_bug_stops_the_batch(tmp_path: Path):
    def work(slide_id: str, folder: Path) -> None:
        raise ZeroDivisionError("a bug, not a bad slide")

    with pytest.raises(ZeroDivisionError):
        run_per_slide(tmp_path, ["A", "B"], work)
    assert not (tmp_path / "B").exists()

"""The study's GDC manifests parse; diagnostic slides are picked out; hostile manifests are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.tcga.manifest import (
    REASON_NOT_SLIDE,
    REASON_REPEATED,
    diagnostic_slides,
    read_manifest,
    slide_ids_from_manifest,
)

MANIFESTS = Path(__file__).resolve().parents[2] / "config" / "tcga" / "gdc_manifests"

# Counted once from the files with the csv module (distinct rows; .svs with -DX / other .svs / others).
EXPECTED = {
    "BLCA": (457, 469, 834, 0),
    "BRCA": (1133, 0, 0, 0),
    "COAD": (459, 983, 24284, 67),
    "COADREAD": (625, 1347, 1918, 0),
    "GBMLGG": (1704, 1921, 1909, 0),
    "LUAD": (541, 1067, 1123, 0),
    "UCEC": (566, 805, 1679, 0),
}
HEADER = "id\tfilename\tmd5\tsize\tstate\n"
ID_A = "dd82f8ca-7e2c-41dd-a7d0-620f07c69b4a"
ID_B = "2f8175ee-c8fc-49e2-9934-26f78f18c6d5"
MD5_A, MD5_B = "a" * 32, "b" * 32


def write_manifest(folder: Path, *rows: str) -> Path:
    path = folder / "manifest.tsv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


@pytest.mark.parametrize("cohort", sorted(EXPECTED))
def test_shared_manifest_diagnostic_slide_count(cohort):
    kept, other_slides, not_slides, repeated = EXPECTED[cohort]
    selection = diagnostic_slides(MANIFESTS / f"gdc_manifest_{cohort}.csv")
    assert len(selection.slides) == kept
    expected_dropped = {
        REASON_NOT_SLIDE: not_slides,
        "slide without '-DX' in its name": other_slides,
        REASON_REPEATED: repeated,
    }
    assert selection.dropped == {reason: count for reason, count in expected_dropped.items() if count}
    assert all("-DX" in item.filename and item.filename.endswith(".svs") for item in selection.slides)
    print(f"{cohort}: {selection.summary()}")


def test_slide_ids_are_sorted_wildcards_without_suffix():
    ids = slide_ids_from_manifest(MANIFESTS / "gdc_manifest_BLCA.csv")
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 457
    assert ids[0].startswith("TCGA-") and not any(slide.endswith(".svs") for slide in ids)


def test_manifest_without_checksums_keeps_them_unknown():
    slides = diagnostic_slides(MANIFESTS / "gdc_manifest_BRCA.csv").slides
    assert {(item.md5, item.size_bytes) for item in slides} == {(None, None)}


def test_frozen_sections_and_other_files_are_dropped(tmp_path):
    path = write_manifest(
        tmp_path,
        f"{ID_A}\tTCGA-AA-0001-01Z-00-DX1.X.svs\t{MD5_A}\t10\treleased",
        f"{ID_B}\tTCGA-AA-0001-01A-01-TS1.Y.svs\t{MD5_B}\t20\treleased",
        f"{ID_A[:-1]}0\tclinical.TCGA-AA-0001.xml\t{MD5_B}\t30\treleased",
    )
    selection = diagnostic_slides(path)
    assert [item.slide_id for item in selection.slides] == ["TCGA-AA-0001-01Z-00-DX1.X"]
    assert selection.slides[0].size_bytes == 10
    assert selection.dropped == {REASON_NOT_SLIDE: 1, "slide without '-DX' in its name": 1}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"{ID_A}\t../../x.svs\t{MD5_A}\t1\treleased", "not a plain file name"),
        (f"{ID_A}\t/etc/passwd\t{MD5_A}\t1\treleased", "not a plain file name"),
        (f"{ID_A}\tsub/x-DX1.svs\t{MD5_A}\t1\treleased", "not a plain file name"),
        (f"{ID_A}\tsub\\x-DX1.svs\t{MD5_A}\t1\treleased", "not a plain file name"),
        (f"../..\tx-DX1.svs\t{MD5_A}\t1\treleased", "not a GDC UUID"),
        (f"{ID_A}\tx-DX1.svs\tnot-an-md5\t1\treleased", "is not 32 hex digits"),
        (f"{ID_A}\tx-DX1.svs\t{MD5_A}\t-1\treleased", "is not a byte count"),
    ],
)
def test_hostile_row_is_refused_with_its_line(tmp_path, row, message):
    path = write_manifest(tmp_path, f"{ID_B}\tok-DX1.svs\t{MD5_B}\t1\treleased", row)
    with pytest.raises(PipelineInputError, match=message) as caught:
        read_manifest(path)
    assert f"{path}, line 3" in str(caught.value)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["manifest.tsv"]


def test_duplicate_id_with_another_md5_is_refused(tmp_path):
    path = write_manifest(
        tmp_path,
        f"{ID_A}\tx-DX1.svs\t{MD5_A}\t1\treleased",
        f"{ID_A}\tx-DX1.svs\t{MD5_B}\t1\treleased",
    )
    with pytest.raises(PipelineInputError, match=f"file id {ID_A} is listed twice.*line 2.*line 3"):
        read_manifest(path)


def test_two_ids_for_one_file_name_are_refused(tmp_path):
    path = write_manifest(
        tmp_path,
        f"{ID_A}\tx-DX1.svs\t{MD5_A}\t1\treleased",
        f"{ID_B}\tx-DX1.svs\t{MD5_B}\t1\treleased",
    )
    with pytest.raises(PipelineInputError, match="same path"):
        read_manifest(path)


def test_not_a_manifest_names_the_missing_columns(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("case_id,slide_id\nTCGA-AA-0001,x.svs\n")
    with pytest.raises(PipelineInputError, match=r"column\(s\) \['id', 'filename'\] missing"):
        read_manifest(path)


def test_edited_manifest_is_read_again(tmp_path):
    path = write_manifest(tmp_path, f"{ID_A}\tTCGA-AA-0001-01Z-00-DX1.X.svs\t{MD5_A}\t10\treleased")
    assert slide_ids_from_manifest(path) == ["TCGA-AA-0001-01Z-00-DX1.X"]
    write_manifest(
        tmp_path,
        f"{ID_A}\tTCGA-AA-0001-01Z-00-DX1.X.svs\t{MD5_A}\t10\treleased",
        f"{ID_B}\tTCGA-AA-0002-01Z-00-DX1.Y.svs\t{MD5_B}\t10\treleased",
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert slide_ids_from_manifest(path) == ["TCGA-AA-0001-01Z-00-DX1.X", "TCGA-AA-0002-01Z-00-DX1.Y"]

"""GDC manifests: which files a TCGA cohort is made of, checked before anything is fetched.

A manifest row decides a path on disk (``data_dir/{filename}`` and ``data_dir/{id}/{filename}``), so a
row that could point outside the data folder is refused outright rather than cleaned up. The manifests
of the original study list every file of a project (clinical XML, MAFs, frozen sections), so the
diagnostic slides are picked out and what was left aside is counted, per reason, for the log.

This module reads only the manifest: it runs while Snakemake builds the DAG, for 1,000+ slides, with
no network and no slide files.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crossfusion_core.errors import PipelineInputError

LOGGER = logging.getLogger(__name__)

SLIDE_SUFFIX = ".svs"
"""TCGA's diagnostic slides are Aperio SVS files: a slide id is the GDC file name without this suffix,
and :class:`crossfusion_core.tcga.dataset.TcgaDataset` maps it back (the only place that joins the two)."""
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MD5_PATTERN = re.compile(r"[0-9a-fA-F]{32}")
REQUIRED_COLUMNS = ("id", "filename")

REASON_REPEATED = "repeated row (same id, filename and md5)"
REASON_NOT_SLIDE = f"not a slide (no {SLIDE_SUFFIX} suffix)"


@dataclass(frozen=True)
class ManifestFile:
    """One file of a GDC manifest; ``md5`` and ``size_bytes`` are None where the manifest lacks them."""

    file_id: str
    filename: str
    md5: str | None
    size_bytes: int | None

    @property
    def slide_id(self) -> str:
        """The pipeline's ``slide`` wildcard: the file name without ``.svs``."""
        return self.filename.removesuffix(SLIDE_SUFFIX)


@dataclass(frozen=True)
class Manifest:
    """The distinct files of a manifest, and how many verbatim repeats were collapsed."""

    path: Path
    files: tuple[ManifestFile, ...]
    n_repeated_rows: int = 0


@dataclass(frozen=True)
class SlideSelection:
    """The diagnostic slides of a manifest and, per reason, how many rows were left aside."""

    slides: tuple[ManifestFile, ...]
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the log: kept count, then each reason with its count."""
        reasons = "; ".join(f"{count} {reason}" for reason, count in sorted(self.dropped.items()))
        return f"{len(self.slides)} diagnostic slides kept" + (f"; dropped: {reasons}" if reasons else "")


def check_file_id(file_id: str, where: str | Path) -> None:
    """A GDC file id is a UUID; anything else could steer the URL or the ``{id}/`` folder."""
    if not UUID_PATTERN.fullmatch(file_id):
        raise PipelineInputError(where, f"file id {file_id!r} is not a GDC UUID", "use the manifest from GDC")


def check_file_name(filename: str, where: str | Path) -> None:
    """Refuse any name that is not a plain file name, so nothing can be written outside the data folder."""
    unsafe = (
        not filename
        or filename.startswith(("/", "\\"))
        or re.match(r"[A-Za-z]:", filename) is not None
        or ".." in filename
        or "/" in filename
        or "\\" in filename
        or "\x00" in filename
    )
    if unsafe:
        raise PipelineInputError(
            where,
            f"file name {filename!r} is not a plain file name (absolute, '..' or a path separator)",
            "remove the row or restore the file name GDC gives; manifests must not choose folders",
        )


def read_manifest(path: str | Path) -> Manifest:
    """Parse a tab-separated GDC manifest, refusing unsafe names and conflicting duplicates."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = [name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or [])]
            if missing:
                raise PipelineInputError(
                    path,
                    f"not a GDC manifest: column(s) {missing} missing (found {reader.fieldnames})",
                    "download the manifest from the GDC portal (tab separated, with id and filename)",
                )
            rows = [(line, _manifest_file(row, f"{path}, line {line}")) for line, row in enumerate(reader, 2)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PipelineInputError(path, f"cannot read the manifest ({error})", "check the path") from error
    return _without_repeats(path, rows)


def _manifest_file(row: dict[str, str | None], where: str) -> ManifestFile:
    file_id = (row.get("id") or "").strip()
    filename = (row.get("filename") or "").strip()
    check_file_id(file_id, where)
    check_file_name(filename, where)
    return ManifestFile(file_id, filename, _md5(row.get("md5"), where), _size(row.get("size"), where))


def _md5(value: str | None, where: str) -> str | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    if not MD5_PATTERN.fullmatch(value):
        raise PipelineInputError(where, f"md5 {value!r} is not 32 hex digits", "use the manifest from GDC")
    return value


def _size(value: str | None, where: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise PipelineInputError(where, f"size {value!r} is not a byte count", "use the manifest from GDC")
    return int(value)


def _without_repeats(path: Path, rows: list[tuple[int, ManifestFile]]) -> Manifest:
    """Collapse verbatim repeats; refuse an id or a file name that stands for two different files."""
    by_id: dict[str, tuple[int, ManifestFile]] = {}
    by_name: dict[str, tuple[int, ManifestFile]] = {}
    repeats = 0
    for line, item in rows:
        seen_line, seen = by_id.get(item.file_id, (0, None))
        if seen == item:
            repeats += 1
            continue
        if seen is not None:
            raise PipelineInputError(
                path,
                f"file id {item.file_id} is listed twice with different content (line {seen_line}: "
                f"{seen.filename} md5 {seen.md5}; line {line}: {item.filename} md5 {item.md5})",
                "keep one row per file id; re-download the manifest from GDC",
            )
        other_line, other = by_name.get(item.filename, (0, None))
        if other is not None:
            raise PipelineInputError(
                path,
                f"file name {item.filename} is listed for two file ids (line {other_line}: {other.file_id}; "
                f"line {line}: {item.file_id}); both would be written to the same path",
                "keep one row per file name",
            )
        by_id[item.file_id] = by_name[item.filename] = (line, item)
    return Manifest(path, tuple(item for _, item in by_id.values()), repeats)


def diagnostic_slides(manifest: Manifest | str | Path, pattern: str = "-DX") -> SlideSelection:
    """The ``.svs`` files whose name contains ``pattern`` (TCGA diagnostic FFPE slides: ``-DX``).

    Frozen sections (``-TS``, ``-BS``) look different and were not used by the original study.
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    reasons: Counter[str] = Counter()
    if manifest.n_repeated_rows:
        reasons[REASON_REPEATED] = manifest.n_repeated_rows
    kept = []
    for item in manifest.files:
        if not item.filename.endswith(SLIDE_SUFFIX):
            reasons[REASON_NOT_SLIDE] += 1
        elif pattern not in item.filename:
            reasons[f"slide without {pattern!r} in its name"] += 1
        else:
            kept.append(item)
    selection = SlideSelection(tuple(kept), dict(reasons))
    LOGGER.info("%s: %s", manifest.path, selection.summary())
    return selection


def slides_by_id(path: str | Path, pattern: str = "-DX") -> dict[str, ManifestFile]:
    """Diagnostic slides keyed by slide id, for rules that look up one slide's id, md5 and size.

    Cached per file version: input functions call this once per job while the DAG is built.
    """
    path = Path(path).resolve()
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError as error:
        raise PipelineInputError(path, "manifest not found", "check dataset.manifest") from error
    return {item.slide_id: item for item in _cached_slides(path, mtime_ns, pattern)}


@functools.lru_cache(maxsize=16)
def _cached_slides(path: Path, mtime_ns: int, pattern: str) -> tuple[ManifestFile, ...]:
    return diagnostic_slides(path, pattern).slides


def slide_ids_from_manifest(path: str | Path, pattern: str = "-DX") -> list[str]:
    """Sorted slide ids of the diagnostic slides: the ``slide`` wildcard values of a TCGA cohort."""
    return sorted(slides_by_id(path, pattern))

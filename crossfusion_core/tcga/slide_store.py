"""Where a TCGA slide's bytes live in ``dataset.data_dir``, and the proof that they were md5-checked.

- ``data_dir/{file_id}/{filename}``: the kept copy, in the GDC Data Transfer Tool's layout. Downloads
  land here; a copy a user fetched with the tool (or moved here) is md5-checked before it is used.
- ``data_dir/{file_id}/{filename}.verified.json``: written once the kept copy matched the manifest's
  size and md5: those, and the file's identity (device, inode, size).
- ``data_dir/{filename}``: the slide as the workflow reads it, a hard link to the kept copy (a symbolic
  link where the file system has no hard links).

Why two names: the final name is the ``download`` rule's output, and Snakemake deletes a job's outputs
before it reruns the job (after a code or software-environment change, ``--forcerun``, a changed
manifest row). That deletes one name only: the kept copy survives, and the rerun links it back after
comparing it with its record, without the network and without reading it again.

Why a record: Snakemake never runs a job whose output exists, so a file put at a final name by anyone
but the download job would be used unchecked, and a later rerun would delete it. Such a file (a slide
placed by hand, a download of an earlier version of this workflow, a link) is refused, when the DAG is
built and in the job, with the fix of moving it to the kept copy's place. The identity leaves the
modification time out: Snakemake touches every output after its job, and a hard link shares its time
with the kept copy. A link that resolves outside ``data_dir`` is refused, not followed: the pipeline
vouches only for files in its own data folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path, write_json
from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.manifest import slides_by_id

CHUNK_BYTES = 1 << 20
RECORD_SUFFIX = ".verified.json"


@dataclass(frozen=True)
class SlideFiles:
    """The paths of one manifest file in the data folder (see the module docstring)."""

    data_dir: Path
    file_id: str
    filename: str

    @property
    def final(self) -> Path:
        return self.data_dir / self.filename

    @property
    def kept(self) -> Path:
        return self.data_dir / self.file_id / self.filename

    @property
    def record(self) -> Path:
        return self.kept.with_name(self.filename + RECORD_SUFFIX)

    @property
    def partial(self) -> Path:
        """Where a download in progress grows (see :mod:`crossfusion_core.tcga.download`)."""
        return self.data_dir / f".{self.filename}.download"


def file_md5(path: Path) -> str:
    """Hex md5 of a file, read in chunks (slides do not fit in memory comfortably)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def matches(path: Path, md5: str, size: int) -> bool:
    """Size first: it is free and catches truncation without reading a gigabyte."""
    return path.stat().st_size == size and file_md5(path) == md5.lower()


def _identity(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_dev, info.st_ino, info.st_size]


def record_verified(files: SlideFiles, md5: str, size: int) -> None:
    """Note that the kept copy matched ``md5`` and ``size`` (call only after checking it)."""
    write_json(files.record, {"md5": md5.lower(), "size_bytes": size, "identity": _identity(files.kept)})


def _record(files: SlideFiles) -> dict | None:
    try:
        return json.loads(files.record.read_text())
    except (OSError, ValueError):
        return None


def is_recorded(files: SlideFiles, path: Path, md5: str | None = None, size: int | None = None) -> bool:
    """``path`` is the very file the record vouches for, and the record agrees with ``md5``/``size``
    where they are given. No byte is read: this runs for every slide whenever the DAG is built."""
    record = _record(files)
    if record is None or not path.exists():
        return False
    same_md5 = md5 is None or record.get("md5") == md5.lower()
    same_size = size is None or record.get("size_bytes") == size
    return same_md5 and same_size and record.get("identity") == _identity(path)


def link_into_place(files: SlideFiles) -> str:
    """Give the kept copy its final name: a hard link, a symbolic link where hard links fail."""
    with atomic_path(files.final) as tmp:
        tmp.unlink()
        try:
            os.link(files.kept, tmp)
            return "linked"
        except OSError:
            os.symlink(files.kept.resolve(), tmp)
            return "symlinked"


def placed_slide_problem(files: SlideFiles) -> PipelineInputError | None:
    """Why the file at the final name (or the kept copy) may not be used, or None: nothing at the final
    name, or the download job's link to a recorded kept copy."""
    outside = _outside_problem(files, files.final) or _outside_problem(files, files.kept)
    if outside is not None:
        return outside
    final = files.final
    if (not final.is_symlink() and not final.exists()) or is_recorded(files, final):
        return None
    if files.kept.exists():
        fix = f"delete it: the download job md5-checks {files.kept} and links it into place"
    else:
        fix = (
            f"move it to {files.kept} (`mkdir -p {files.kept.parent} && mv {final} {files.kept.parent}/`): "
            "the download job md5-checks it there and links it into place, without fetching"
        )
    return PipelineInputError(
        final, "not put there by the download job, so its md5 was never checked against the manifest", fix
    )


def _outside_problem(files: SlideFiles, path: Path) -> PipelineInputError | None:
    """A link (at any depth) from ``path`` to a file outside the data folder: refused, not followed."""
    target = Path(os.path.realpath(path))
    if target.is_relative_to(Path(os.path.realpath(files.data_dir))):
        return None
    return PipelineInputError(
        path,
        f"a link to {target}, outside the data folder (dataset.data_dir); only slides inside it are "
        "md5-checked and used",
        f"move the slide itself to {files.kept} and delete the link: the download job md5-checks it "
        "there and links it into place, without fetching",
    )


def check_placed_slides(dataset: TcgaDataset, slide_ids: Iterable[str]) -> None:
    """Refuse, when the DAG is built, any slide file that Snakemake would take as downloaded unchecked.

    Costs a few ``stat`` calls and one small record read per slide already in place, no byte of a slide.
    """
    rows = slides_by_id(dataset.manifest, dataset.slide_pattern)
    problems = [
        problem
        for item in (rows[slide_id] for slide_id in slide_ids)
        if (problem := placed_slide_problem(SlideFiles(dataset.data_dir, item.file_id, item.filename)))
        is not None
    ]
    if not problems:
        return
    first = problems[0]
    more = f" (and {len(problems) - 1} more slide file(s) of the cohort refused)" if len(problems) > 1 else ""
    raise PipelineInputError(first.path, first.problem + more, first.fix)

"""The list of slides that could not be fetched, for runs with ``--keep-going``.

Download jobs run in parallel, possibly on different cluster nodes, so they never append to one shared
file: each failing job writes its own small record (``{failures_dir}/{file_id}.tsv``, atomically) and
:func:`collect_failures` gathers them into one table at the end. A later successful download removes
its stale record.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from crossfusion_core.io import write_csv, write_text
from crossfusion_core.tcga.manifest import check_file_id

COLUMNS = ["file_id", "filename", "reason", "time_utc"]


def _record_path(failures_dir: Path, file_id: str) -> Path:
    check_file_id(file_id, failures_dir)
    return failures_dir / f"{file_id}.tsv"


def record_failure(failures_dir: str | Path, file_id: str, filename: str, reason: str) -> Path:
    """Write one failure record; tabs and line breaks in ``reason`` are flattened to keep one row."""
    path = _record_path(Path(failures_dir), file_id)
    clean_reason = " ".join(str(reason).split())
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write_text(path, "\t".join(COLUMNS) + "\n" + "\t".join([file_id, filename, clean_reason, when]) + "\n")
    return path


def clear_failure(failures_dir: str | Path, file_id: str) -> None:
    """Forget an earlier failure of a file that has now been fetched."""
    _record_path(Path(failures_dir), file_id).unlink(missing_ok=True)


def collect_failures(failures_dir: str | Path, out_tsv: str | Path) -> pd.DataFrame:
    """Gather every record into ``out_tsv`` (header only when nothing failed), sorted by file name."""
    records = sorted(Path(failures_dir).glob("*.tsv")) if Path(failures_dir).is_dir() else []
    frames = [pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False) for path in records]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    table = table[COLUMNS].sort_values("filename", ignore_index=True)
    write_csv(out_tsv, table, sep="\t")
    return table

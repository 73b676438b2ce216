"""Atomic writes: every output appears under its final name only once it is complete.

Snakemake treats an existing output as done, so a writer killed half way must never leave a
final-named file behind. Everything that writes a result goes through :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


@contextlib.contextmanager
def atomic_path(final_path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; rename it into place if the block succeeds.

    The temporary file sits in the same directory so the rename is atomic on POSIX file systems, and
    keeps the final suffix so libraries that dispatch on it (h5py, matplotlib, PIL) behave.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final_path.stem}.", suffix=f".partial{final_path.suffix}", dir=final_path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp_name)
    os.chmod(tmp_path, 0o666 & ~_current_umask())
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, final_path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _current_umask() -> int:
    """The process umask (mkstemp creates files 0600; results should get the usual permissions)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON atomically."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame, **to_csv_kwargs: Any) -> None:
    """Write a data frame as CSV atomically (no index unless asked)."""
    to_csv_kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **to_csv_kwargs)

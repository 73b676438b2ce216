"""Fetching one slide from the GDC data endpoint, so that a slide under its final name is always whole.

TCGA slides are 0.1-3 GB and links drop: the bytes go to a hidden ``.{filename}.download`` file that
survives a failed attempt (and a killed job), and the next attempt asks only for the rest with an HTTP
``Range`` header. Only after the size and md5 match the manifest does the file become the kept copy
``{id}/{filename}``, which is then linked to the final name (see :mod:`crossfusion_core.tcga.slide_store`
for the layout and why a rerun of the job never loses a slide), so a truncated or corrupted download can
never pass for a slide. A kept copy already there (a rerun, or a GDC Data Transfer Tool download) is
used without the network: as it is when its record vouches for it, after an md5 check otherwise.

A dropped link is retried for as long as attempts bring new bytes; a file that disagrees with the
manifest (another size, another md5) is not a network problem, so it gets :data:`MAX_BAD_DOWNLOADS`
attempts in all and then a clear error. The rule runs with ``retries: 0`` so that this is also the
count per workflow run. The partial file is only ever opened with ``O_NOFOLLOW`` and must be a regular
file with no other name: appending to a planted link would write a slide into a file outside the data
folder.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path
from crossfusion_core.tcga.gdc import RETRY_STATUSES, GdcAccessError, file_metadata, gdc_session
from crossfusion_core.tcga.manifest import check_file_id, check_file_name
from crossfusion_core.tcga.slide_store import (
    CHUNK_BYTES,
    SlideFiles,
    file_md5,
    is_recorded,
    link_into_place,
    matches,
    placed_slide_problem,
    record_verified,
)

LOGGER = logging.getLogger(__name__)

MAX_BAD_DOWNLOADS = 2
"""Downloads that disagree with the manifest's size or md5 before giving up: a second one means the
manifest or the server is wrong, not the link."""

RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class DownloadResult:
    """Where the slide is and how it got there: ``present``, ``linked``, ``symlinked`` or ``downloaded``."""

    path: Path
    action: str
    bytes_fetched: int = 0


def download_slide(
    file_id: str,
    filename: str,
    md5: str | None,
    size: int | None,
    dest_dir: str | Path,
    api_url: str,
    token_file: str | Path | None = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
) -> DownloadResult:
    """Put the verified file ``dest_dir/filename`` in place, fetching only what is not already there.

    ``md5``/``size`` None (a manifest without them) are looked up at the GDC files endpoint.
    ``retries`` counts consecutive attempts that failed without bringing any new bytes, so a long
    download over a flaky link keeps going as long as it makes progress. A file at the final name that
    the download job did not put there is refused (:func:`slide_store.placed_slide_problem`).
    """
    check_file_id(file_id, filename)
    check_file_name(filename, file_id)
    files = SlideFiles(Path(dest_dir), file_id, filename)
    problem = placed_slide_problem(files)
    if problem is not None:
        raise problem
    if md5 is None or size is None:
        md5, size = file_metadata(gdc_session(token_file, retries, backoff_s), api_url, file_id, timeout_s)
    if is_recorded(files, files.final, md5, size):
        return _done(DownloadResult(files.final, "present"))
    if _kept_copy_matches(files, md5, size):
        return _done(DownloadResult(files.final, link_into_place(files)))
    url = f"{api_url.rstrip('/')}/data/{file_id}"
    files.data_dir.mkdir(parents=True, exist_ok=True)
    session = gdc_session(token_file, retries=0)
    fetched = _fetch_verified(session, url, files.partial, md5, size, retries, backoff_s, timeout_s)
    with atomic_path(files.kept) as tmp:
        os.replace(files.partial, tmp)
    record_verified(files, md5, size)
    link_into_place(files)
    return _done(DownloadResult(files.final, "downloaded", fetched))


def _done(result: DownloadResult) -> DownloadResult:
    LOGGER.info("%s: %s (%d bytes fetched)", result.path, result.action, result.bytes_fetched)
    return result


def _kept_copy_matches(files: SlideFiles, md5: str, size: int) -> bool:
    """The kept copy is the manifest's file: by its record (no byte read), else by an md5 check."""
    if not files.kept.is_file():
        return False
    if is_recorded(files, files.kept, md5, size):
        return True
    if matches(files.kept, md5, size):
        record_verified(files, md5, size)
        return True
    LOGGER.warning("%s does not match the manifest's size/md5; fetching it again", files.kept)
    return False


def _fetch_verified(
    session: requests.Session,
    url: str,
    partial: Path,
    md5: str,
    size: int,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> int:
    """Attempt, resume and back off until ``partial`` holds exactly the file; returns bytes fetched."""
    failures = bad_downloads = fetched = attempt = 0
    while True:
        have = _partial_size(partial)
        if have == size:
            if file_md5(partial) == md5.lower():
                return fetched
            reply = _Reply(mismatch=f"md5 mismatch after a complete download of {size} bytes")
        elif have > size:
            LOGGER.warning("%s: %d bytes, more than the manifest's %d; discarded", partial, have, size)
            partial.unlink()
            continue
        else:
            attempt += 1
            reply = _fetch_rest(session, url, partial, have, size, timeout_s)
            fetched += reply.written
            LOGGER.info("%s: attempt %d from byte %d of %d: %s", url, attempt, have, size, reply)
        if reply.mismatch is not None:
            bad_downloads += 1
            partial.unlink(missing_ok=True)
            LOGGER.warning("%s: %s (%d of %d allowed)", url, reply.mismatch, bad_downloads, MAX_BAD_DOWNLOADS)
            if bad_downloads >= MAX_BAD_DOWNLOADS:
                raise GdcAccessError(
                    url,
                    f"{reply.mismatch}, in {bad_downloads} downloads",
                    "check the manifest's size and md5 against the GDC files endpoint, or download a "
                    "fresh manifest from the GDC portal",
                )
        elif reply.failure is not None:
            failures = 0 if reply.written else failures + 1
            if failures > retries:
                raise GdcAccessError(
                    url,
                    f"download failed {failures} times in a row (last: {reply.failure})",
                    "check the network, or fetch the file with the GDC Data Transfer Tool",
                )
            wait_s = backoff_s * 2 ** max(failures - 1, 0)
            LOGGER.warning("%s: %s; retrying in %.1f s", url, reply.failure, wait_s)
            time.sleep(wait_s)


@dataclass(frozen=True)
class _Reply:
    """One GET of the data endpoint: bytes written, and either a network failure (retried while
    attempts make progress) or a disagreement with the manifest (the file is not what it says)."""

    written: int = 0
    status: int | None = None
    failure: str | None = None
    mismatch: str | None = None

    def __str__(self) -> str:
        status = f"HTTP {self.status}, " if self.status is not None else ""
        outcome = self.mismatch or self.failure or "ok"
        return f"{status}{self.written} bytes written ({outcome})"


def _fetch_rest(
    session: requests.Session, url: str, partial: Path, have: int, size: int, timeout_s: float
) -> _Reply:
    """Append the bytes after ``have`` to ``partial``, never writing past the manifest's ``size``.

    A server that ignores ``Range`` (200 instead of 206) restarts the file from zero. The size the
    server announces is checked before any byte is read, and a server that announces nothing is cut
    off at ``size``. A cut connection is detected here, from ``Content-Length``, rather than by urllib3,
    whose exception would throw away the last partial chunk and so move the resume point away from the
    true cut. A clean reply that brings nothing while bytes are missing means the file is shorter.
    """
    headers = {"Range": f"bytes={have}-"} if have else {}
    written = 0
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
            status = response.status_code
            early = _early_verdict(url, response, have, size)
            if early is not None:
                return early
            start = have if status == 206 else 0
            expected = int(response.headers.get("Content-Length", -1))
            response.raw.enforce_content_length = False
            with _open_partial(partial, append=start > 0) as handle:
                for chunk in response.iter_content(CHUNK_BYTES):
                    if start + written + len(chunk) > size:
                        return _Reply(written, status, mismatch=_size_problem(f"more than {size}", size))
                    handle.write(chunk)
                    written += len(chunk)
    except RETRYABLE_ERRORS as error:
        return _Reply(written, failure=type(error).__name__)
    if 0 <= written < expected:
        return _Reply(written, status, failure="connection closed early")
    if written == 0:
        return _Reply(0, status, mismatch=_size_problem(f"no bytes after byte {start}", size))
    return _Reply(written, status)


def _early_verdict(url: str, response: requests.Response, have: int, size: int) -> _Reply | None:
    """What the status line and headers settle before the body is read; None to read the body."""
    status = response.status_code
    if status == 416:
        return _Reply(status=status, mismatch=_size_problem(f"no bytes after byte {have}", size))
    problem = _status_problem(url, response)
    if problem is not None:
        return _Reply(failure=problem)
    if status == 206 and _range_start(response) != have:
        return _Reply(status=status, failure=f"a range reply that does not start at byte {have}")
    announced = _announced_size(response, have if status == 206 else 0)
    if announced is not None and announced != size:
        return _Reply(status=status, mismatch=_size_problem(f"{announced}", size))
    return None


def _size_problem(served: str, size: int) -> str:
    return f"the GDC serves {served} bytes but the manifest says {size} bytes"


def _announced_size(response: requests.Response, start: int) -> int | None:
    """The whole file's size as the server states it: Content-Range's total, else start + length."""
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = response.headers.get("Content-Length", "")
    return start + int(length) if length.isdigit() else None


def _partial_size(partial: Path) -> int:
    """Bytes already in the partial file (0 if there is none), after checking it is safe to extend."""
    try:
        info = partial.lstat()
    except FileNotFoundError:
        return 0
    _require_own_regular_file(partial, info)
    return info.st_size


def _open_partial(partial: Path, append: bool) -> BinaryIO:
    """Open for writing without following a link, then check what was opened (no race with lstat)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_APPEND if append else os.O_TRUNC)
    try:
        descriptor = os.open(partial, flags, 0o666)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            _require_own_regular_file(partial, partial.lstat())
        raise
    try:
        _require_own_regular_file(partial, os.fstat(descriptor))
    except PipelineInputError:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "ab" if append else "wb")


def _require_own_regular_file(partial: Path, info: os.stat_result) -> None:
    """The partial file must be a plain file with this one name, not a way to write somewhere else."""
    if stat.S_ISLNK(info.st_mode):
        what = "a symbolic link"
    elif not stat.S_ISREG(info.st_mode):
        what = "not a regular file"
    elif info.st_nlink != 1:
        what = f"a hard link ({info.st_nlink} names for one file)"
    else:
        return
    raise PipelineInputError(
        partial,
        f"the partial download is {what}; refusing to write through it",
        "delete it (the download then starts again) and check who put it in the data folder",
    )


def _status_problem(url: str, response: requests.Response) -> str | None:
    """None for 200/206; a reason to retry for 5xx, 408 and 429; an error for the other refusals."""
    if response.status_code in (200, 206):
        return None
    if response.status_code in RETRY_STATUSES:
        return f"HTTP {response.status_code}"
    fix = {
        401: "set dataset.token_file to a valid GDC token (controlled-access file)",
        403: "set dataset.token_file to a valid GDC token with access to this project",
        404: "check the file id in the manifest; GDC may have retired the file",
    }.get(response.status_code, "check the manifest and dataset.gdc_api")
    raise GdcAccessError(url, f"the GDC refused the download with HTTP {response.status_code}", fix)


def _range_start(response: requests.Response) -> int | None:
    """First byte of a ``Content-Range: bytes START-END/TOTAL`` answer."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None

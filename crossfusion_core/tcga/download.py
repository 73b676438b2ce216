"""Fetching one slide from the GDC data endpoint, so that a slide under its final name is always whole.

TCGA slides are 0.1-3 GB and links drop: the bytes go to a hidden ``.{filename}.download`` file that
survives a failed attempt (and a killed job), and the next attempt asks only for the rest with an HTTP
``Range`` header. Only after the size and md5 match the manifest is the file renamed into place, so a
truncated or corrupted download can never pass for a slide. Slides a user already fetched with the GDC
Data Transfer Tool (``{id}/{filename}``) are verified and hard-linked into place instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from crossfusion_core.io import atomic_path
from crossfusion_core.tcga.gdc import RETRY_STATUSES, GdcAccessError, file_metadata, gdc_session
from crossfusion_core.tcga.manifest import check_file_id, check_file_name

LOGGER = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
MAX_COMPLETE_DOWNLOADS = 2
"""A second whole download with a wrong md5 means the manifest or the server is wrong, not the link."""

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
    client_dir: str | Path | None = None,
) -> DownloadResult:
    """Put the verified file ``dest_dir/filename`` in place, fetching only what is not already there.

    ``md5``/``size`` None (a manifest without them) are looked up at the GDC files endpoint.
    ``client_dir`` is where GDC Data Transfer Tool downloads are looked for (default ``dest_dir``).
    ``retries`` counts consecutive attempts that failed without bringing any new bytes, so a long
    download over a flaky link keeps going as long as it makes progress.
    """
    check_file_id(file_id, filename)
    check_file_name(filename, file_id)
    dest_dir = Path(dest_dir)
    final_path = dest_dir / filename
    if md5 is None or size is None:
        md5, size = file_metadata(gdc_session(token_file, retries, backoff_s), api_url, file_id, timeout_s)
    if final_path.is_file() and _matches(final_path, md5, size):
        return _done(DownloadResult(final_path, "present"))
    client_copy = Path(client_dir or dest_dir) / file_id / filename
    if client_copy.is_file():
        if _matches(client_copy, md5, size):
            return _done(_link_into_place(client_copy, final_path))
        LOGGER.warning(
            "%s: GDC client copy does not match the manifest's size/md5; fetching again", client_copy
        )
    url = f"{api_url.rstrip('/')}/data/{file_id}"
    partial = dest_dir / f".{filename}.download"
    dest_dir.mkdir(parents=True, exist_ok=True)
    session = gdc_session(token_file, retries=0)
    fetched = _fetch_verified(session, url, partial, md5, size, retries, backoff_s, timeout_s)
    with atomic_path(final_path) as tmp:
        os.replace(partial, tmp)
    return _done(DownloadResult(final_path, "downloaded", fetched))


def _done(result: DownloadResult) -> DownloadResult:
    LOGGER.info("%s: %s (%d bytes fetched)", result.path, result.action, result.bytes_fetched)
    return result


def file_md5(path: Path) -> str:
    """Hex md5 of a file, read in chunks (slides do not fit in memory comfortably)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(path: Path, md5: str, size: int) -> bool:
    """Size first: it is free and catches truncation without reading a gigabyte."""
    return path.stat().st_size == size and file_md5(path) == md5.lower()


def _link_into_place(source: Path, final_path: Path) -> DownloadResult:
    """Hard link (no copy, the client's folder stays valid); a symlink where they are on different disks."""
    with atomic_path(final_path) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
            action = "linked"
        except OSError:
            os.symlink(source.resolve(), tmp)
            action = "symlinked"
    return DownloadResult(final_path, action)


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
    failures = complete_downloads = fetched = 0
    while True:
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        if have == size:
            complete_downloads += 1
            if file_md5(partial) == md5.lower():
                return fetched
            partial.unlink()
            reason = "md5 mismatch after a complete download"
            LOGGER.warning("%s: %s; discarded", url, reason)
            if complete_downloads >= MAX_COMPLETE_DOWNLOADS:
                raise GdcAccessError(url, f"{reason}, twice", "check the md5 in the manifest against GDC")
            continue
        written, reason = _fetch_rest(session, url, partial, have, timeout_s)
        fetched += written
        if reason is None:
            continue
        failures = 0 if written else failures + 1
        if failures > retries:
            raise GdcAccessError(
                url,
                f"download failed {failures} times in a row (last: {reason})",
                "check the network, or fetch the file with the GDC Data Transfer Tool",
            )
        wait_s = backoff_s * 2 ** max(failures - 1, 0)
        LOGGER.warning("%s: %s after %d bytes; retrying in %.1f s", url, reason, have + written, wait_s)
        time.sleep(wait_s)


def _fetch_rest(
    session: requests.Session, url: str, partial: Path, have: int, timeout_s: float
) -> tuple[int, str | None]:
    """Append the bytes after ``have`` to ``partial``; returns (bytes written, failure reason or None).

    A server that ignores ``Range`` (200 instead of 206) restarts the file from zero. A cut connection
    is detected here, from ``Content-Length``, rather than by urllib3, whose exception would throw away
    the last partial chunk and so move the resume point away from the true cut.
    """
    headers = {"Range": f"bytes={have}-"} if have else {}
    written = 0
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
            reason = _status_problem(url, response)
            if reason is not None:
                return 0, reason
            resumed = response.status_code == 206 and _range_start(response) == have
            expected = int(response.headers.get("Content-Length", -1))
            response.raw.enforce_content_length = False
            with open(partial, "ab" if resumed else "wb") as handle:
                for chunk in response.iter_content(CHUNK_BYTES):
                    handle.write(chunk)
                    written += len(chunk)
    except RETRYABLE_ERRORS as error:
        return written, type(error).__name__
    return written, "connection closed early" if 0 <= written < expected else None


def _status_problem(url: str, response: requests.Response) -> str | None:
    """None for 200/206; a reason to retry for 5xx, 408 and 429; an error for the other refusals."""
    if response.status_code in (200, 206):
        return None
    if response.status_code in RETRY_STATUSES:
        return f"HTTP {response.status_code}"
    fix = {
        401: "set source.token_file to a valid GDC token (controlled-access file)",
        403: "set source.token_file to a valid GDC token with access to this project",
        404: "check the file id in the manifest; GDC may have retired the file",
    }.get(response.status_code, "check the manifest and source.gdc_api")
    raise GdcAccessError(url, f"the GDC refused the download with HTTP {response.status_code}", fix)


def _range_start(response: requests.Response) -> int | None:
    """First byte of a ``Content-Range: bytes START-END/TOTAL`` answer."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None

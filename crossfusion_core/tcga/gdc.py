"""Talking to the GDC API (https://api.gdc.cancer.gov): sessions, tokens and JSON queries.

The token of controlled-access data grants access to patient data, so it only ever lives in a session
header: it is never put in a URL, a message or a log line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from crossfusion_core.errors import PipelineInputError

LOGGER = logging.getLogger(__name__)

TOKEN_HEADER = "X-Auth-Token"
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


class GdcAccessError(PipelineInputError):
    """The GDC could not be reached, or refused or failed a request; the message says what to do.

    The message starts with the URL as a string: through ``Path`` it would print as ``https:/api...``.
    """

    def __init__(self, url: str, problem: str, fix: str | None = None) -> None:
        super().__init__(None, f"{url}: {problem}", fix)
        self.url = url


def gdc_session(
    token_file: str | Path | None = None, retries: int = 5, backoff_s: float = 2.0
) -> requests.Session:
    """A session that sends the token (if any) and retries metadata queries on 5xx and dropped links.

    A refused connection is retried once only: offline, the user should hear at once which local file
    replaces the query. Downloads do their own retrying (they resume with ``Range``).
    """
    session = requests.Session()
    if token_file is not None:
        session.headers[TOKEN_HEADER] = read_token(token_file)
    policy = Retry(
        total=retries,
        connect=min(retries, 1),
        backoff_factor=backoff_s,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        raise_on_status=False,
    )
    session.mount("http://", HTTPAdapter(max_retries=policy))
    session.mount("https://", HTTPAdapter(max_retries=policy))
    return session


def read_token(token_file: str | Path) -> str:
    """The token text; errors name the file, never its content."""
    token_file = Path(token_file)
    try:
        token = token_file.read_text().strip()
    except OSError as error:
        raise PipelineInputError(
            token_file,
            f"cannot read the GDC token file ({error.strerror})",
            "set dataset.token_file to the file the GDC portal gave you",
        ) from error
    if not token:
        raise PipelineInputError(token_file, "the GDC token file is empty", "download a fresh token")
    return token


def request_json(
    session: requests.Session, method: str, url: str, timeout_s: float, what: str, fix: str, **kwargs: Any
) -> dict[str, Any]:
    """One JSON request; an unreachable GDC or an error status becomes a :class:`GdcAccessError`.

    ``what`` names the query and ``fix`` the way around it, because an offline run mostly needs to be
    told which local file would have replaced the query.
    """
    try:
        response = session.request(method, url, timeout=timeout_s, **kwargs)
    except requests.RequestException as error:
        raise GdcAccessError(url, f"cannot reach the GDC for {what} ({type(error).__name__})", fix) from error
    if response.status_code != 200:
        raise GdcAccessError(url, f"the GDC answered HTTP {response.status_code} for {what}", fix)
    try:
        return response.json()
    except ValueError as error:
        raise GdcAccessError(url, f"the GDC answer for {what} is not JSON", fix) from error


def file_metadata(session: requests.Session, api_url: str, file_id: str, timeout_s: float) -> tuple[str, int]:
    """(md5, size in bytes) of a GDC file, for manifests that do not carry them (the study's BRCA one)."""
    payload = request_json(
        session,
        "GET",
        f"{api_url.rstrip('/')}/files/{file_id}",
        timeout_s,
        what=f"the md5 and size of file {file_id}",
        fix="use a manifest with md5 and size columns (GDC portal: Download > Manifest)",
        params={"fields": "md5sum,file_size,file_name", "format": "json"},
    )
    data = payload.get("data") or {}
    if not data.get("md5sum") or data.get("file_size") is None:
        raise GdcAccessError(
            api_url, f"the GDC gave no md5/size for file {file_id}", "check the file id in the manifest"
        )
    return str(data["md5sum"]).lower(), int(data["file_size"])

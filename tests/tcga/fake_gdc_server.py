"""A loopback stand-in for the GDC API: the data, files and cases endpoints, with injectable faults.

It speaks real HTTP on 127.0.0.1 (stdlib ``http.server`` in a thread, random port), so the download
code's streaming, ``Range`` resumption and retries are exercised as they are against the real GDC.
A ``Range`` that starts at or past the end of a file gets an empty 206 (what some servers send) or,
with ``strict_ranges``, the 416 of RFC 9110.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler


@dataclass
class Fault:
    """One injected failure, used up by the request it hits.

    ``status``: answer HTTP ``value``; ``cut``: close the connection after byte ``value``; ``corrupt``:
    flip byte ``value``; ``bare``: send neither Content-Length nor Content-Range (the body ends when the
    connection closes), so the client cannot learn the file's size from the headers.
    """

    kind: str
    value: int = 0


@dataclass
class FakeGdc:
    """Files by id, queued faults per id, case records, and a log of every request received."""

    url: str = ""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    cases: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    posted: list[dict] = field(default_factory=list)
    bytes_sent: int = 0
    strict_ranges: bool = False

    def add_file(self, file_id: str, filename: str, content: bytes) -> tuple[str, int]:
        """Serve ``content`` under ``file_id``; returns its (md5, size) as a manifest would list them."""
        self.files[file_id] = (filename, content)
        return hashlib.md5(content).hexdigest(), len(content)

    def requests_to(self, prefix: str) -> list[tuple[str, str, dict[str, str]]]:
        return [request for request in self.requests if request[1].startswith(prefix)]


def gdc_handler(gdc: FakeGdc) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

        def _record(self) -> None:
            gdc.requests.append((self.command, self.path, dict(self.headers.items())))

        def do_GET(self) -> None:
            self._record()
            path = self.path.split("?")[0]
            if path.startswith("/data/"):
                self._data(path.removeprefix("/data/"))
            elif path.startswith("/files/") and path.removeprefix("/files/") in gdc.files:
                filename, content = gdc.files[path.removeprefix("/files/")]
                md5 = hashlib.md5(content).hexdigest()
                self._json({"data": {"md5sum": md5, "file_size": len(content), "file_name": filename}})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            self._record()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            gdc.posted.append(body)
            if self.path.split("?")[0] != "/cases":
                self.send_error(404)
                return
            start, size = int(body.get("from", 0)), int(body.get("size", 10))
            page = gdc.cases[start : start + size]
            self._json({"data": {"hits": page, "pagination": {"total": len(gdc.cases), "from": start}}})

        def _json(self, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _data(self, file_id: str) -> None:
            if file_id not in gdc.files:
                self.send_error(404)
                return
            filename, content = gdc.files[file_id]
            queued = gdc.faults.get(file_id) or []
            fault = queued.pop(0) if queued else None
            if fault is not None and fault.kind == "status":
                self.send_error(fault.value)
                return
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            start = int(match.group(1)) if match else 0
            if gdc.strict_ranges and match and start >= len(content):
                self.send_error(416)
                return
            body = bytearray(content[start:])
            if fault is not None and fault.kind == "corrupt":
                body[fault.value - start] ^= 0xFF
            bare = fault is not None and fault.kind == "bare"
            self.send_response(206 if match else 200)
            if match and not bare:
                self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
            if not bare:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Disposition", f"attachment; filename={filename}")
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            sent = body[: fault.value - start] if fault is not None and fault.kind == "cut" else body
            try:
                self.wfile.write(bytes(sent))
            except (BrokenPipeError, ConnectionResetError):
                return  # the client hung up on reading the headers: nothing more to send
            gdc.bytes_sent += len(sent)
            if len(sent) < len(body) or bare:
                self.wfile.flush()
                self.close_connection = True

    return Handler

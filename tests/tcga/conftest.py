"""Fixtures of the TCGA tests: a loopback GDC (see fake_gdc_server.py) and an unreachable one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_gdc_server import FakeGdc, gdc_handler


@pytest.fixture
def fake_gdc() -> Iterator[FakeGdc]:
    gdc = FakeGdc()
    server = ThreadingHTTPServer(("127.0.0.1", 0), gdc_handler(gdc))
    gdc.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield gdc
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on: what an offline machine sees."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"

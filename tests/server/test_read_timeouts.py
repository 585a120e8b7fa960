"""Slow and oversized clients, against the real server: headers and bodies are read under
a timeout on the event loop (408), headers over the limit are refused while they arrive (431),
and the server goes on answering everyone else at once."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.model_dirs import SLEEPY_MODEL, write_custom_py
from support.raw_http import port_of
from support.server import ServerProcess, rss_kib, run_server

pytestmark = pytest.mark.server

TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("timeouts")
    code_dir = write_custom_py(tmp / "model", SLEEPY_MODEL)
    with run_server(tmp, "--code-dir", str(code_dir), "--target-type", "regression",
                    "--header-timeout", str(TIMEOUT), "--body-timeout", str(TIMEOUT),
                    "--max-header-size", "65536", "--logging-level", "warning") as running:
        assert running.first_answer().status_code == 200
        yield running


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port_of(server)), timeout=10)


def _read_all(sock: socket.socket) -> tuple[bytes, float]:
    """Everything until the server closes the connection, and when that was."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic()


def _ping_is_quick(server: ServerProcess) -> None:
    start = time.monotonic()
    assert httpx.get(server.base_url + "/ping/", timeout=5).status_code == 200
    assert time.monotonic() - start < 0.5


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(server: ServerProcess) -> None:
    with _connect(server) as sock:
        start = time.monotonic()
        _ping_is_quick(server)
        received, closed = _read_all(sock)

    assert received == b""
    assert TIMEOUT * 0.8 <= closed - start < TIMEOUT + 3


def test_headers_that_trickle_past_the_timeout_get_408(server: ServerProcess) -> None:
    with _connect(server) as sock:
        start = time.monotonic()
        sent = 0
        try:
            for byte in b"POST /predict/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)  # the trickle itself: one byte every 50 ms
                if time.monotonic() - start > TIMEOUT + 3:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        received, closed = _read_all(sock)

    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert received.endswith(b'{"message":"ERROR: request headers not received within 1 s"}')
    assert closed - start < TIMEOUT + 3
    _ping_is_quick(server)


def test_a_body_that_stalls_gets_408_and_no_model_call(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: 100\r\n\r\nsleep\n0")
        start = time.monotonic()
        received, closed = _read_all(sock)

    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"request body stalled for 1 s" in received
    assert TIMEOUT * 0.8 <= closed - start < TIMEOUT + 3
    assert httpx.post(server.base_url + "/predict/", content=b"sleep\n0\n",
                      headers={"Content-Type": "text/csv"}, timeout=10).status_code == 200


def test_a_request_sent_in_pieces_within_the_timeouts_is_served(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /predict/ HTTP/1.1\r\nHost: x\r\n")
        time.sleep(TIMEOUT / 3)  # slower than one packet, well within the timeout
        sock.sendall(b"Content-Type: text/csv\r\nContent-Length: 10\r\nConnection: close\r\n\r\nsleep\n")
        time.sleep(TIMEOUT / 3)
        sock.sendall(b"0.1\n")
        received, _ = _read_all(sock)

    assert received.startswith(b"HTTP/1.1 200 OK\r\n")


def test_headers_over_the_limit_get_431_while_they_arrive(server: ServerProcess) -> None:
    before = rss_kib(server.process.pid)
    with _connect(server) as sock:
        sock.sendall(b"GET /ping/ HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:  # 64 MB offered; the server stops reading long before
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            received, _ = _read_all(sock)
        except ConnectionResetError:
            received = b""
    grown = rss_kib(server.process.pid) - before

    assert sent < 8 * 1024 * 1024, f"the server read {sent} bytes of headers"
    if received:  # the answer may be lost to the reset of a client that is still sending
        assert received.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert grown < 20 * 1024, f"RSS grew {grown} KiB"
    _ping_is_quick(server)


READING_HOOK = """
from flask import g, request

def init_app(app):
    @app.before_request
    def peek():
        g.seen = len(request.get_data())
"""


def _ping_ms(server: ServerProcess, count: int) -> float:
    """The median latency of ``count`` sequential /ping/ over one connection, in ms."""
    times = []
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(count):
            start = time.perf_counter()
            assert client.get("/ping/").status_code == 200
            times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


@pytest.mark.slow
def test_200_slow_header_and_50_slow_body_clients_cost_ping_nothing_and_are_closed(
    tmp_path: Path,
) -> None:
    code_dir = write_custom_py(tmp_path / "model", SLEEPY_MODEL)
    (code_dir / "custom_flask.py").write_text(READING_HOOK)
    with run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression",
                    "--header-timeout", "4", "--body-timeout", "4", "--flask-hook-threads", "4",
                    "--logging-level", "warning") as server:
        assert server.first_answer().status_code == 200
        idle = _ping_ms(server, 200)
        port = port_of(server)
        slow: list[socket.socket] = []
        try:
            for index in range(250):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                slow.append(sock)
                if index < 200:  # headers that never end
                    sock.sendall(b"GET /ping/ HTTP/1.1\r\nHost: x\r\nX-Slow: a")
                else:  # a body to a hook that reads it, that never ends
                    sock.sendall(b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                                 b"Content-Length: 1000\r\n\r\nsleep\n")
            started = time.monotonic()
            loaded = _ping_ms(server, 200)
            # A request that reads its body through the hook is served meanwhile: the 50
            # trickling bodies hold none of the 4 hook threads.
            answer = httpx.post(server.base_url + "/predict/", content=b"sleep\n0\n",
                                headers={"Content-Type": "text/csv"}, timeout=10)
            assert answer.status_code == 200
            assert time.monotonic() - started < 4, "measured before the timeouts closed them"
            closed = 0
            for sock in slow:
                sock.settimeout(10)
                try:
                    while sock.recv(65536):
                        pass
                except (ConnectionResetError, TimeoutError):
                    continue
                closed += 1
        finally:
            for sock in slow:
                sock.close()

    assert loaded - idle < 5, f"/ping/ median {idle:.2f} ms idle, {loaded:.2f} ms with 250 slow clients"
    assert closed == 250

"""``server/healthcheck.py``, the image's HEALTHCHECK, against a stand-in server whose
``/livez`` answers what a test says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import pytest
from dropin_env import SERVER_DIR, user_env
from support.server import free_port

from drum_bridge.config.sources import parse_address

HEALTHCHECK = str(SERVER_DIR / "healthcheck.py")


class StandIn(ThreadingHTTPServer):
    status = 200
    paths: list[str]


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.paths.append(self.path)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn(("127.0.0.1", 0), Handler)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def healthcheck(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, HEALTHCHECK], env=user_env(**env), capture_output=True, text=True,
        timeout=30,
    )


def test_healthy_when_livez_answers_200(stand_in: StandIn) -> None:
    run = healthcheck(ADDRESS=f"127.0.0.1:{stand_in.server_port}")

    assert run.returncode == 0, run.stdout + run.stderr
    assert stand_in.paths == ["/livez"]


def test_unhealthy_when_livez_answers_otherwise(stand_in: StandIn) -> None:
    stand_in.status = 503
    run = healthcheck(ADDRESS=f"127.0.0.1:{stand_in.server_port}")

    assert run.returncode == 1
    assert run.stdout.strip() == f"GET http://127.0.0.1:{stand_in.server_port}/livez: 503"


def test_unhealthy_when_nothing_listens() -> None:
    run = healthcheck(ADDRESS=f"127.0.0.1:{free_port()}")

    assert run.returncode == 1
    assert "Connection refused" in run.stdout


def test_a_server_on_every_interface_is_asked_on_loopback_under_its_url_prefix(
    stand_in: StandIn,
) -> None:
    run = healthcheck(ADDRESS=f"0.0.0.0:{stand_in.server_port}", URL_PREFIX="/model/")

    assert run.returncode == 0, run.stdout + run.stderr
    assert stand_in.paths == ["/model/livez"]


def test_a_proxy_meant_for_the_models_calls_is_not_used(stand_in: StandIn) -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    run = healthcheck(
        ADDRESS=f"127.0.0.1:{stand_in.server_port}", HTTP_PROXY=dead_proxy, http_proxy=dead_proxy
    )

    assert run.returncode == 0, run.stdout + run.stderr


def test_a_malformed_address_is_unhealthy_with_the_reason() -> None:
    run = healthcheck(ADDRESS="localhost:http")

    assert run.returncode == 1
    assert run.stdout.strip() == "Address 'localhost:http' must be host[:port] with a numeric port"


def healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", HEALTHCHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "address", ["0.0.0.0:8080", "127.0.0.1", ":9000", "localhost:1", "host:http", "::1", "a:b:c"]
)
def test_address_is_read_as_drum_server_reads_it(address: str) -> None:
    # healthcheck.py keeps to the standard library, so it has its own copy of the parsing.
    ours = healthcheck_module().parse_address
    try:
        expected: object = parse_address(address)
    except ValueError as exc:
        with pytest.raises(ValueError) as raised:
            ours(address)
        assert str(raised.value) == str(exc)
    else:
        assert ours(address) == expected

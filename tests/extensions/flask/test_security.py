"""The security property of the shim: no spelling of a request reaches a DRUM route
other than ping without passing the custom_flask.py hooks — served alone, or mounted
in a host application (the spelling then follows the mount path).

Requests are built as raw ASGI scopes, the way uvicorn builds them (``path`` is the
percent-decoded ``raw_path``), so that no client library tidies a path up first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from drum_bridge import create_app
from drum_bridge.routes.drum_routes import DrumRoutes
from drum_bridge.routes.route_table import DRUM_RULES

from ..conftest import config_for

GUARD = """
from flask import request, jsonify

def init_app(app):
    @app.before_request
    def guard():
        if request.endpoint == "model_api.ping":
            return
        if request.headers.get("X-Token") != "letmein":
            return jsonify({"message": "denied"}), 401
"""
PREFIXES = ["", "/model/v1"]
#: (URL_PREFIX, inline hooks, mount path in a host app or "" to serve alone)
SERVERS = [(p, inline, "") for p in PREFIXES for inline in (False, True)] + [
    ("", False, "/models/m"), ("/model/v1", True, "/models/m"),
]
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "PURGE"]
ROUTE_PATHS = sorted({rule.path.replace("<path:path>", "x/y") for rule in DRUM_RULES})


@dataclass
class Probe:
    """Replaces the DRUM endpoints: records which were reached."""

    reached: list[str] = field(default_factory=list)

    def install(self, app: Any) -> None:
        routes = next(r for r in app.router.routes if isinstance(r, DrumRoutes))
        routes.endpoints = {name: self._endpoint(name) for name in routes.endpoints}

    def _endpoint(self, name: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            self.reached.append(name)
            return Response("reached")

        return endpoint


@dataclass
class Server:
    client: TestClient
    probe: Probe
    prefix: str
    mount: str

    def call(self, method: str, raw_path: bytes, headers: list[tuple[bytes, bytes]]) -> int:
        return int(self.client.portal.call(_asgi_call, self.client.app, method, raw_path, headers))


async def _asgi_call(app: Any, method: str, raw_path: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    path, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote(path.decode("latin-1")), "raw_path": path,
        "query_string": query, "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080),
    }
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


@pytest.fixture(scope="module", params=SERVERS,
                ids=lambda p: f"prefix={p[0] or '-'},{'inline' if p[1] else 'threaded'}"
                              + (f",mounted={p[2]}" if p[2] else ""))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           model_pickle: bytes) -> Iterator[Server]:
    prefix, inline, mount = request.param
    code_dir = tmp_path_factory.mktemp("secure")
    (code_dir / "model.pkl").write_bytes(model_pickle)
    (code_dir / "custom_flask.py").write_text(GUARD)
    app = create_app(config_for(code_dir, url_prefix=prefix, flask_hooks_inline=inline))
    probe = Probe()
    probe.install(app)
    served: Any = app
    if mount:
        host = FastAPI()
        host.mount(mount, app)
        served = host
    with TestClient(served) as client:
        yield Server(client, probe, prefix, mount)


def _escape(char: str, upper: bool) -> str:
    code = f"%{ord(char):02x}"
    return code.upper() if upper else code


@st.composite
def spellings(draw: st.DrawFn, prefix: str) -> bytes:
    """A path aimed at a DRUM route, spelled in one of the many ways a client could."""
    base = draw(st.sampled_from([prefix + p for p in ROUTE_PATHS] + [prefix, prefix + "/"]))
    segments = base.split("/")
    out = []
    for segment in segments:
        text = "".join(
            _escape(c, draw(st.booleans())) if draw(st.integers(0, 5)) == 0 else c for c in segment
        )
        if draw(st.integers(0, 8)) == 0:
            text = text.upper()
        out.append(text)
        if draw(st.integers(0, 6)) == 0:
            out.append(draw(st.sampled_from(["", ".", "..", "x/..", "%2e", "%2E%2E"])))
    path = "/".join(out) or "/"
    if not path.startswith("/"):
        path = "/" + path
    suffix = draw(st.sampled_from(["", "/", "//", "?a=1", "/?next=/info/", "%2F", ";x", "#frag"]))
    return (path + suffix).encode("latin-1")


def test_spellings_reach_routes_with_the_token(server: Server) -> None:
    """Control: the probe does see requests that pass the hook, so the property can fail."""
    server.probe.reached.clear()
    status = server.call("GET", f"{server.mount}{server.prefix}/info/".encode(), [(b"x-token", b"letmein")])
    assert status == 200 and server.probe.reached == ["model_api.info"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_spelling_reaches_a_drum_route_without_the_token(server: Server, data: st.DataObject) -> None:
    raw_path = server.mount.encode() + data.draw(spellings(server.prefix))
    method = data.draw(st.sampled_from(METHODS))
    server.probe.reached.clear()
    status = server.call(method, raw_path, [])
    bypass = [name for name in server.probe.reached if name != "model_api.ping"]
    assert not bypass, f"{method} {raw_path!r} reached {bypass} without the token (status {status})"
    if not server.probe.reached:
        assert status in (200, 401), f"{method} {raw_path!r} answered {status}"

"""Two models in one host: each one's hooks guard its own routes only; each has its own pools."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from support.model_dirs import SLEEPY_MODEL, write_custom_py

from drum_bridge import create_app

from .conftest import CSV, CSV_HEADERS, host_with, token_guard, write_model

KEY_MIDDLEWARE = """
from starlette.responses import JSONResponse

class NeedsKey:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (b"x-key", b"gamma") not in scope["headers"]:
            await JSONResponse({"message": "no key"}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

def init_app(app):
    app.add_middleware(NeedsKey)
"""


class HostHeader:
    """The host's own middleware: marks every response that passed through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-host", b"yes")]}
            await send(message)

        await self.app(scope, receive, marked)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    models = {
        "a": write_model(tmp_path / "a", offset=100.0, **{"custom_flask.py": token_guard("alpha")}),
        "b": write_model(tmp_path / "b", offset=200.0, **{"custom_flask.py": token_guard("beta")}),
        "c": write_model(tmp_path / "c", offset=300.0, **{"custom_fastapi.py": KEY_MIDDLEWARE}),
    }
    host = host_with(**{name: create_app(code_dir=path, target_type="regression") for name, path in models.items()})
    host.add_middleware(HostHeader)
    with TestClient(host) as client:
        yield client


def _predict(client: TestClient, model: str, **headers: str) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/{model}/predict/", content=CSV, headers={**CSV_HEADERS, **headers}
    )
    return response


def test_each_model_is_guarded_by_its_own_hooks_only(client: TestClient) -> None:
    assert _predict(client, "a", **{"X-Token": "alpha"}).json() == {"predictions": [101.0, 102.0]}
    assert _predict(client, "b", **{"X-Token": "beta"}).json() == {"predictions": [201.0, 202.0]}
    assert _predict(client, "c", **{"X-Key": "gamma"}).json() == {"predictions": [301.0, 302.0]}

    denied_a = _predict(client, "a", **{"X-Token": "beta"})
    denied_b = _predict(client, "b", **{"X-Token": "alpha"})
    assert (denied_a.status_code, denied_a.json()) == (401, {"message": "denied by alpha"})
    assert (denied_b.status_code, denied_b.json()) == (401, {"message": "denied by beta"})
    assert _predict(client, "c", **{"X-Token": "alpha"}).status_code == 403
    # Neither guard reaches the other models' unknown paths, nor the host's own routes.
    assert client.get("/c/nothing-here", headers={"X-Key": "gamma"}).status_code == 404
    assert client.get("/status").json() == {"status": "ok"}
    assert client.get("/nothing-here").status_code == 404


def test_the_host_middleware_wraps_every_model_and_its_own_routes(client: TestClient) -> None:
    answers = [
        _predict(client, "a"), _predict(client, "b", **{"X-Token": "beta"}), _predict(client, "c"),
        client.get("/status"), client.get("/a/ping/"),
    ]
    assert [a.headers.get("X-Host") for a in answers] == ["yes"] * 5
    assert [a.status_code for a in answers] == [401, 200, 403, 200, 200]
    # DRUM's headers are the models' own, the host's routes go without them.
    assert "X-Drum-Version" in answers[0].headers and "X-Drum-Version" not in answers[3].headers


def test_each_model_answers_its_own_stats(client: TestClient) -> None:
    stats = [client.get("/a/stats/", headers={"X-Token": "alpha"}), client.get("/b/stats/", headers={"X-Token": "beta"})]
    assert [s.status_code for s in stats] == [200, 200]
    assert all("drum_info" in s.json() and "mem_info" in s.json() for s in stats)


@pytest.mark.anyio
async def test_a_busy_model_does_not_hold_the_other(tmp_path: Path) -> None:
    slow = create_app(code_dir=write_custom_py(tmp_path / "slow", SLEEPY_MODEL), target_type="regression",
                      model_threads=1, max_waiting_requests=0)
    quick = create_app(code_dir=write_custom_py(tmp_path / "quick", SLEEPY_MODEL), target_type="regression")
    transport = httpx.ASGITransport(app=host_with(slow=slow, quick=quick))
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        busy = asyncio.create_task(client.post("/slow/predict/", content=b"sleep\n1.0\n", headers=CSV_HEADERS))
        deadline = time.monotonic() + 10
        while not (tmp_path / "slow" / "started").exists():
            assert time.monotonic() < deadline, "the slow model never started"
            await asyncio.sleep(0.01)
        refused = await client.post("/slow/predict/", content=b"sleep\n0\n", headers=CSV_HEADERS)
        served = await client.post("/quick/predict/", content=b"sleep\n0\n", headers=CSV_HEADERS)
        assert not busy.done()
        finished = await busy

    assert refused.status_code == 503
    assert served.json() == {"predictions": [0.0]}
    assert finished.json() == {"predictions": [1.0]}

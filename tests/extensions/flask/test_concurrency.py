"""Concurrent requests never see each other's ``g`` or ``request``, in either hook mode."""

from __future__ import annotations

import anyio
import httpx
import pytest

from drum_bridge import create_app

from ..conftest import CSV, MakeDir, config_for

ECHO = """
import time
from flask import g, request

def init_app(app):
    @app.before_request
    def remember():
        g.value = request.headers["X-Value"]
        if request.headers.get("X-Sleep"):
            time.sleep(0.002)

    @app.after_request
    def echo(response):
        response.headers["X-Echo"] = g.value
        response.headers["X-Request-Echo"] = request.headers["X-Value"]
        return response

    @app.route("/echo")
    def echo_route():
        time.sleep(0.001)
        return {"g": g.value}
"""

REQUESTS = 200


@pytest.mark.anyio
@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
async def test_each_request_sees_its_own_g(make_model_dir: MakeDir, inline: bool) -> None:
    app = create_app(config_for(make_model_dir(**{"custom_flask.py": ECHO}), flask_hooks_inline=inline))
    await app.drum_runtime.startup()
    results: dict[str, httpx.Response] = {}
    sleep = {} if inline else {"X-Sleep": "1"}

    async def one(i: int, client: httpx.AsyncClient) -> None:
        value = f"v{i}"
        headers = {"X-Value": value, **sleep}
        kind = i % 3
        if kind == 0:
            response = await client.get("/info/", headers=headers)
        elif kind == 1:
            response = await client.post("/predict/", content=CSV, headers={**headers, "Content-Type": "text/csv"})
        else:
            response = await client.get("/echo", headers=headers)
        results[value] = response

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        async with anyio.create_task_group() as tasks:
            for i in range(REQUESTS):
                tasks.start_soon(one, i, client)
    await app.drum_runtime.shutdown()

    assert len(results) == REQUESTS
    for value, response in results.items():
        assert response.status_code == 200, response.text
        assert response.headers["x-echo"] == value
        assert response.headers["x-request-echo"] == value
        if response.request.url.path == "/echo":
            assert response.json() == {"g": value}

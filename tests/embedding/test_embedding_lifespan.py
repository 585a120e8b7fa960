"""A mounted app's model: loaded by the host's lifespan, else once on first use; released once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from drum_bridge import ModelLoadError, create_app

from .conftest import CSV, CSV_HEADERS, host_with, loads, write_model

FIRST_USE_LOG = "Model failed to load on first use"
#: How the model loader words a failing ``load_model`` hook.
HOOK_FAILED = "An error occurred when loading your artifact: 'load_model' hook failed to load the model. Exception: "


def test_the_host_lifespan_loads_the_model_and_releases_it_on_exit(model_dir: Path) -> None:
    model = create_app(code_dir=model_dir, target_type="regression")
    released: list[str] = []

    async def note_release() -> None:
        released.append("extensions")

    model.drum_runtime.on_shutdown.append(note_release)
    loaded_at_start: list[int] = []

    @asynccontextmanager
    async def lifespan(host: FastAPI) -> AsyncIterator[None]:
        async with model.lifespan_context(host):
            loaded_at_start.append(loads(model_dir))
            yield

    host = FastAPI(lifespan=lifespan)
    host.mount("/model", model)
    with TestClient(host) as client:
        assert loaded_at_start == [1] and released == []
        assert client.post("/model/predict/", content=CSV, headers=CSV_HEADERS).status_code == 200
    assert released == ["extensions"] and loads(model_dir) == 1

    # Released: the model's threads refuse work (and nothing loads it again).
    with TestClient(host_with(model=model), raise_server_exceptions=False) as client:
        after = client.post("/model/predict/", content=CSV, headers=CSV_HEADERS)
    assert after.status_code == 503 and after.headers["Retry-After"]
    assert loads(model_dir) == 1


def test_a_failure_in_the_host_lifespan_stops_the_host(tmp_path: Path) -> None:
    model = create_app(code_dir=write_model(tmp_path / "m", load_error="no weights"), target_type="regression")

    @asynccontextmanager
    async def lifespan(host: FastAPI) -> AsyncIterator[None]:
        async with model.lifespan_context(host):
            yield

    host = FastAPI(lifespan=lifespan)
    host.mount("/model", model)
    with pytest.raises(ModelLoadError, match="no weights"), TestClient(host):
        pass


@pytest.mark.anyio
async def test_concurrent_first_requests_wait_for_one_load(tmp_path: Path) -> None:
    code_dir = write_model(tmp_path / "m", load_seconds=0.3, offset=10.0)
    host = host_with(model=create_app(code_dir=code_dir, target_type="regression"))
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        ping = await client.get("/model/ping/")
        assert ping.status_code == 200 and loads(code_dir) == 0  # liveness does not load
        answers = await asyncio.gather(*(
            client.post("/model/predict/", content=CSV, headers=CSV_HEADERS) for _ in range(8)
        ))
    assert [a.json() for a in answers] == [{"predictions": [11.0, 12.0]}] * 8
    assert loads(code_dir) == 1


@pytest.mark.anyio
async def test_a_load_failure_on_first_use_answers_500_and_is_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code_dir = write_model(tmp_path / "m", load_seconds=0.1, load_error="no weights in the bucket")
    model = create_app(code_dir=code_dir, target_type="regression")
    transport = httpx.ASGITransport(app=host_with(model=model))
    with caplog.at_level(logging.ERROR, "drum_bridge"):
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            first = await asyncio.gather(*(
                client.post("/model/predict/", content=CSV, headers=CSV_HEADERS) for _ in range(3)
            ))
            later = await client.get("/model/info/")
            status = await client.get("/status")

    expected = {"message": f"ERROR: Model failed to load: {HOOK_FAILED}ValueError('no weights in the bucket')"}
    assert [(a.status_code, a.json()) for a in [*first, later]] == [(500, expected)] * 4
    assert loads(code_dir) == 1
    assert len([r for r in caplog.records if FIRST_USE_LOG in r.getMessage()]) == 1
    assert status.status_code == 200


def test_a_load_failure_on_first_use_with_the_error_server_answers_513(tmp_path: Path) -> None:
    code_dir = write_model(tmp_path / "m", load_error="no weights")
    model = create_app(code_dir=code_dir, target_type="regression", with_error_server=True)
    with TestClient(host_with(model=model)) as client:
        predicted = client.post("/model/predict/", content=CSV, headers=CSV_HEADERS)
        ping = client.get("/model/ping/")
    assert (predicted.status_code, predicted.json()) == (513, {"message": f"ERROR: {HOOK_FAILED}ValueError('no weights')"})
    assert ping.status_code == 513
    assert loads(code_dir) == 1


@pytest.mark.anyio
async def test_shutdown_twice_releases_once(model_dir: Path) -> None:
    model = create_app(code_dir=model_dir, target_type="regression")
    calls: list[int] = []

    async def release() -> None:
        calls.append(1)

    model.drum_runtime.on_shutdown.append(release)
    async with model.lifespan_context():
        pass
    await model.drum_runtime.shutdown()
    assert calls == [1]

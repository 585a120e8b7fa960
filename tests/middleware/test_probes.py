"""/livez, /readyz, /startupz: what an orchestrator's probes see, beside DRUM's /ping/ and
/health/ (which call custom.py's liveness_probe/readiness_probe hooks when it has them)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from support.app import drum_client
from support.model_dirs import SLEEPY_MODEL, X_AUTH_HOOK, write_custom_py

from drum_bridge import Config, TargetType, create_app

PROBES = ("/livez", "/readyz", "/startupz")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_custom_py(tmp_path / "probed", SLEEPY_MODEL)


def test_probes_answer_once_the_model_is_loaded(model: Path) -> None:
    with drum_client(Config(code_dir=model, target_type=TargetType.REGRESSION)) as client:
        answers = {path: client.get(path) for path in PROBES}
        head = client.head("/readyz")

    assert {path: (r.status_code, r.json()) for path, r in answers.items()} == {
        "/livez": (200, {"status": "alive"}),
        "/readyz": (200, {"status": "ready"}),
        "/startupz": (200, {"status": "started", "state": "ready"}),
    }
    assert head.status_code == 200
    assert answers["/readyz"].headers["X-Drum-Version"]  # DRUM's headers, as every answer


@pytest.mark.anyio
async def test_a_mounted_app_not_started_is_not_ready_and_a_probe_starts_its_load(model: Path) -> None:
    app = create_app(code_dir=model, target_type="regression")
    # No lifespan, as under a host's Mount; one event loop, as in a host.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        first = await client.get("/readyz")
        assert first.status_code == 503
        assert first.json()["state"] in ("not loaded", "loading")
        assert (await client.get("/livez")).status_code == 200
        deadline = time.monotonic() + 30
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "the probe did not start the model's load"
            await asyncio.sleep(0.05)
        assert (await client.get("/startupz")).json() == {"status": "started", "state": "ready"}
    await app.drum_runtime.shutdown()


def test_draining_turns_readyz_503_and_livez_stays_200(model: Path) -> None:
    app = create_app(code_dir=model, target_type="regression")
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        app.drum_runtime.begin_drain()

        assert (client.get("/readyz").status_code, client.get("/readyz").json()) == (
            503, {"status": "not ready", "state": "draining"}
        )
        assert client.get("/livez").status_code == 200


def test_a_model_that_failed_into_the_error_server_is_started_but_not_ready(tmp_path: Path) -> None:
    broken = write_custom_py(tmp_path / "broken", "def load_model(code_dir):\n    raise RuntimeError('no')\n")
    config = Config(code_dir=broken, target_type=TargetType.REGRESSION, with_error_server=True)
    with drum_client(config) as client:
        assert client.get("/ping/").status_code == 513
        assert (client.get("/readyz").status_code, client.get("/readyz").json()["state"]) == (503, "failed")
        assert client.get("/startupz").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_probes_answer_get_and_head_only(model: Path, method: str) -> None:
    with drum_client(Config(code_dir=model, target_type=TargetType.REGRESSION)) as client:
        response = client.request(method, "/livez")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json() == {"message": "ERROR: 405 Method Not Allowed: /livez answers GET and HEAD only"}


def test_probes_live_under_url_prefix(model: Path) -> None:
    config = Config(code_dir=model, target_type=TargetType.REGRESSION, url_prefix="/m/v1")
    with drum_client(config) as client:
        assert client.get("/m/v1/livez").status_code == 200
        assert client.get("/m/v1/readyz").status_code == 200
        assert client.get("/livez").status_code == 404


def test_custom_flask_hooks_do_not_guard_the_probes_but_guard_every_other_spelling(model: Path) -> None:
    (model / "custom_flask.py").write_text(X_AUTH_HOOK)
    config = Config(code_dir=model, target_type=TargetType.REGRESSION, server_type="flask")  # type: ignore[arg-type]
    with drum_client(config) as client:
        probes = {path: client.get(path).status_code for path in (*PROBES, "/metrics")}
        other_spellings = {path: client.get(path).status_code for path in ("/livez/", "/LIVEZ", "/livez%2F")}
        predict = client.post("/predict/", content=b"sleep\n0\n", headers={"Content-Type": "text/csv"})

    assert probes == {"/livez": 200, "/readyz": 200, "/startupz": 200, "/metrics": 200}
    assert set(other_spellings.values()) == {401}
    assert predict.status_code == 401


PROBE_HOOKS = """
def load_model(code_dir):
    return "m"

def score(data, model, **kwargs):
    raise NotImplementedError

def liveness_probe():
    return {"message": "alive, says custom.py"}

def readiness_probe():
    return {"message": "warming up"}, 503
"""


def test_ping_and_health_call_custom_py_probe_hooks(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "hooks", PROBE_HOOKS)
    with drum_client(Config(code_dir=code_dir, target_type=TargetType.REGRESSION)) as client:
        ping, health = client.get("/ping/"), client.get("/health/")

    assert (ping.status_code, ping.json()) == (200, {"message": "alive, says custom.py"})
    assert (health.status_code, health.json()) == (503, {"message": "warming up"})


def test_a_probe_hook_returning_something_else_is_a_drum_error(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "bad", PROBE_HOOKS.replace('{"message": "warming up"}, 503', "42"))
    with drum_client(Config(code_dir=code_dir, target_type=TargetType.REGRESSION)) as client:
        health = client.get("/health/")
        ping = client.get("/ping/")

    assert health.status_code == 500
    assert health.json() == {"message": "ERROR: readiness_probe() must return a dict or a (dict, status) pair, got int"}
    assert ping.status_code == 200

"""``drum_bridge.ray_serve``: drum-bridge as a Ray Serve deployment.

The slow test starts a local Ray instance (loopback only, no dashboard, no usage stats),
runs a text-generation model with a ``custom_flask.py`` auth hook on two replicas
(``max_workers=2``) under a route prefix, and talks to it through Ray Serve's HTTP proxy.
About 20 s.  The fast ones check the deployment's options without starting Ray.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.chat_model import CHAT_MODEL, PROMPTS_CSV, TARGET_NAME, chat_words, stream_chat
from support.model_dirs import X_AUTH_HOOK, write_custom_py
from support.server import free_port

from drum_bridge import Config, ConfigError
from drum_bridge.app import config_from_settings

NEEDS_RAY = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="Ray Serve is not installed (pip install -e '.[ray]')",
)
# Ray's own modules use pydantic APIs deprecated in pydantic 2.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")
PREFIX = "/models/words"
AUTH = {"X-Auth": "t0k3n"}
CSV = {"Content-Type": "text/csv"}


def chat_model_dir(tmp_path: Path) -> Path:
    code_dir = write_custom_py(tmp_path / "model", CHAT_MODEL)
    (code_dir / "custom_flask.py").write_text(X_AUTH_HOOK)
    return code_dir


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    """A client of Ray Serve's proxy serving the guarded chat model on 2 replicas at PREFIX,
    and the model's code dir."""
    ray = pytest.importorskip("ray")
    from ray import serve

    from drum_bridge.ray_serve import deployment

    code_dir = chat_model_dir(tmp_path_factory.mktemp("ray"))
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1")
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            app = deployment(code_dir=code_dir, target_type="textgeneration",
                             target_name=TARGET_NAME, max_workers=2)
            serve.run(app, name="words", route_prefix=PREFIX)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}{PREFIX}", timeout=30) as client:
                yield client, code_dir
        finally:
            serve.shutdown()
            ray.shutdown()


@NEEDS_RAY
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_two_replicas_each_load_the_model_once_and_answer(
    proxy: tuple[httpx.Client, Path],
) -> None:
    client, code_dir = proxy
    answered_by: set[str] = set()
    for _ in range(100):  # the proxy picks a replica per request: both soon answer
        response = client.post("/predict/", content=PROMPTS_CSV, headers={**CSV, **AUTH})
        assert response.status_code == 200, response.text
        pid = response.json()["predictions"][0].split(":")[0]
        assert response.json() == {"predictions": [f"{pid}:hello", f"{pid}:world"]}
        answered_by.add(pid)
        if len(answered_by) == 2:
            break

    assert len(answered_by) == 2
    assert sorted((code_dir / "loads").read_text().split()) == sorted(answered_by)


@NEEDS_RAY
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_chat_stream_through_the_proxy(proxy: tuple[httpx.Client, Path]) -> None:
    client, _ = proxy
    response = stream_chat(client, "/v1/chat/completions", "streamed word by word", **AUTH)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert chat_words(response) == ["streamed", "word", "by", "word"]


@NEEDS_RAY
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_flask_auth_hook_guards_every_replica(proxy: tuple[httpx.Client, Path]) -> None:
    client, _ = proxy
    denied = [client.post("/predict/", content=PROMPTS_CSV, headers=CSV) for _ in range(10)]
    chat = stream_chat(client, "/v1/chat/completions", "no token")
    unslashed = client.post("/predict", content=PROMPTS_CSV, headers=CSV)
    redirect = client.post("/predict", content=PROMPTS_CSV, headers={**CSV, **AUTH})

    assert [(r.status_code, r.json()) for r in denied] == [(401, {"message": "Unauthorized"})] * 10
    assert chat.status_code == 401
    assert unslashed.status_code == 401
    # The slash redirect carries the route prefix (Ray Serve's root_path).
    assert (redirect.status_code, redirect.headers["location"]) == (
        308, f"{client.base_url}predict/")
    assert client.get("/ping/").json() == {"message": "OK"}


def built(**kwargs: Any) -> Any:
    """The Ray deployment ``deployment(...)`` binds (Ray's private attribute: no public one)."""
    from drum_bridge.ray_serve import deployment

    return deployment(**kwargs)._bound_deployment


@NEEDS_RAY
def test_replicas_from_max_workers_or_ray_options(tmp_path: Path) -> None:
    model = {"code_dir": chat_model_dir(tmp_path), "target_type": "textgeneration",
             "target_name": TARGET_NAME}

    assert built(**model).num_replicas == 1
    assert built(**model, max_workers=3).num_replicas == 3
    assert built(**model, max_workers=3, num_replicas=5).num_replicas == 5
    scaled = built(**model, autoscaling_config={"min_replicas": 1, "max_replicas": 4})
    assert scaled._deployment_config.autoscaling_config.max_replicas == 4
    options = built(**model, graceful_timeout=7, name="churn",
                    deployment_options={"max_ongoing_requests": 64})
    assert (options.name, options.max_ongoing_requests) == ("churn", 64)
    assert options._deployment_config.graceful_shutdown_timeout_s == 7


@NEEDS_RAY
def test_settings_are_checked_where_the_deployment_is_built(tmp_path: Path) -> None:
    from drum_bridge.ray_serve import deployment

    model = {"code_dir": chat_model_dir(tmp_path), "target_type": "textgeneration",
             "target_name": TARGET_NAME}

    with pytest.raises(ConfigError, match="not both"):
        built(**model, num_replicas=2, autoscaling_config={"max_replicas": 4})
    with pytest.raises(TypeError, match="unknown settings: model_thread"):
        built(**model, model_thread=4)
    with pytest.raises(ConfigError):
        built(**{**model, "target_type": "no-such-type"})
    with pytest.raises(TypeError, match="not both"):
        deployment(create_app_config(model), max_workers=2)


def create_app_config(model: dict[str, Any]) -> Config:
    return config_from_settings(model.pop("code_dir"), model.pop("target_type"), model)


@NEEDS_RAY
def test_a_config_serves_as_the_settings(tmp_path: Path) -> None:
    model = {"code_dir": chat_model_dir(tmp_path), "target_type": "textgeneration",
             "target_name": TARGET_NAME, "max_workers": 2, "graceful_timeout": 5.0}
    from drum_bridge.ray_serve import deployment

    bound = deployment(create_app_config(model))._bound_deployment

    assert bound.num_replicas == 2
    assert bound._deployment_config.graceful_shutdown_timeout_s == 5.0


def test_without_ray_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # ``import ray`` raises ImportError
    from drum_bridge.ray_serve import deployment

    with pytest.raises(ImportError, match=r"pip install 'drum-bridge\[ray\]'"):
        deployment(code_dir=tmp_path, target_type="regression")

"""/metrics: Prometheus' text format through prometheus-client, requests labelled by route
template (never the raw path) and status, the limits' answers, model calls, streams."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.app import drum_client
from support.model_dirs import SLEEPY_MODEL, write_custom_py

from drum_bridge import Config, TargetType

FASTAPI_ROUTE = """
from fastapi import APIRouter

def init_app(app):
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def item(item_id: int):
        return {"item": item_id}

    app.include_router(router)
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    wanted = tuple(sorted(labels.items()))
    return samples(text).get((name, wanted))


@pytest.fixture
def model(tmp_path: Path) -> Path:
    # A name of its own: metrics are the process's, labelled by the model's code dir name.
    return write_custom_py(tmp_path / f"m{uuid.uuid4().hex[:8]}", SLEEPY_MODEL)


def test_requests_are_counted_by_route_template_and_status(model: Path) -> None:
    (model / "custom_fastapi.py").write_text(FASTAPI_ROUTE)
    with drum_client(Config(code_dir=model, target_type=TargetType.REGRESSION, max_body_size=100)) as client:
        for _ in range(3):
            assert client.post("/predict/", content=b"sleep\n0\n", headers={"Content-Type": "text/csv"}).status_code == 200
        client.post("/predictions/", content=b"sleep\n0\n", headers={"Content-Type": "text/csv"})
        client.get("/ping/")
        client.get("/items/7")
        client.get("/items/8")
        client.get(f"/no/such/{uuid.uuid4()}")
        client.request("FROBNICATE", "/predict/")
        client.post("/predict/", content=b"x" * 200, headers={"Content-Type": "text/csv"})
        response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text, m = response.text, model.name
    assert value(text, "drum_bridge_requests_total", model=m, method="POST", route="/predict/", status="200") == 3
    assert value(text, "drum_bridge_requests_total", model=m, method="POST", route="/predictions/", status="200") == 1
    assert value(text, "drum_bridge_requests_total", model=m, method="GET", route="/ping/", status="200") == 1
    assert value(text, "drum_bridge_requests_total", model=m, method="GET", route="/items/{item_id}", status="200") == 2
    assert value(text, "drum_bridge_requests_total", model=m, method="GET", route="<unmatched>", status="404") == 1
    assert value(text, "drum_bridge_requests_total", model=m, method="other", route="<unmatched>", status="405") == 1
    # A body over the limit is refused before routing: no route matched it.
    assert value(text, "drum_bridge_requests_total", model=m, method="POST", route="<unmatched>", status="413") == 1
    assert value(text, "drum_bridge_limit_responses_total", model=m, status="413") == 1
    assert value(text, "drum_bridge_request_duration_seconds_count", model=m, method="POST", route="/predict/") == 3
    assert value(text, "drum_bridge_model_call_duration_seconds_count", model=m) == 4
    assert (value(text, "drum_bridge_model_load_seconds", model=m) or 0) > 0
    assert value(text, "drum_bridge_requests_in_progress", model=m) == 1  # the scrape itself
    assert value(text, "drum_bridge_model_threads_busy", model=m) == 0
    assert value(text, "drum_bridge_model_queue_depth", model=m) == 0
    # No raw path became a label.
    assert "no/such" not in text


def test_model_threads_and_model_calls_are_seen_while_they_run_and_after(model: Path) -> None:
    config = Config(code_dir=model, target_type=TargetType.REGRESSION, model_threads=1)
    statuses: list[int] = []
    with drum_client(config) as client:
        slow = threading.Thread(target=lambda: statuses.append(client.post(
            "/predict/", content=b"sleep\n1.5\n", headers={"Content-Type": "text/csv"}).status_code))
        slow.start()
        # The model writes "started" before it sleeps 1.5 s: the scrape lands inside the call
        # however slowly the machine got there.
        deadline = time.monotonic() + 10
        while not (model / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        during = client.get("/metrics").text
        slow.join(10)
        after = client.get("/metrics").text

    m = model.name
    assert statuses == [200]
    assert value(during, "drum_bridge_model_threads_busy", model=m) == 1  # seen while the call ran
    assert value(after, "drum_bridge_model_threads_busy", model=m) == 0
    assert value(after, "drum_bridge_model_call_duration_seconds_count", model=m) == 1
    assert (value(after, "drum_bridge_model_call_duration_seconds_sum", model=m) or 0) >= 1.5
    assert value(after, "drum_bridge_model_call_duration_seconds_bucket", model=m, le="1.0") == 0
    assert value(after, "drum_bridge_model_call_duration_seconds_bucket", model=m, le="+Inf") == 1
    assert value(after, "drum_bridge_predict_batch_requests_count", model=m) == 1
    assert value(after, "drum_bridge_predict_batch_requests_bucket", model=m, le="1.0") == 1


def test_metrics_off_serves_no_metrics_route(model: Path) -> None:
    with drum_client(Config(code_dir=model, target_type=TargetType.REGRESSION, metrics=False)) as client:
        client.post("/predict/", content=b"sleep\n0\n", headers={"Content-Type": "text/csv"})
        assert client.get("/metrics").status_code == 404
        assert client.get("/livez").status_code == 200


CHAT = """
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

def load_model(code_dir):
    return "m"

def chat(completion_create_params, model, **kwargs):
    for word in ("a", "b"):
        yield ChatCompletionChunk(id="c", created=1, model="m", object="chat.completion.chunk",
                                  choices=[Choice(index=0, delta=ChoiceDelta(content=word))])
"""


def test_streams_are_counted(tmp_path: Path) -> None:
    pytest.importorskip("openai")
    code_dir = write_custom_py(tmp_path / f"chat{uuid.uuid4().hex[:8]}", CHAT)
    config = Config(code_dir=code_dir, target_type=TargetType.TEXT_GENERATION, target_name="answer")
    with drum_client(config) as client:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        for _ in range(2):
            assert "data: [DONE]" in client.post("/chat/completions", json=body).text
        text = client.get("/metrics").text

    assert value(text, "drum_bridge_streams_total", model=code_dir.name) == 2
    assert value(text, "drum_bridge_streams_in_progress", model=code_dir.name) == 0

"""OpenTelemetry: DRUM-named spans continuing the caller's traceparent, with DRUM's attributes,
recorded by the SDK's in-memory exporter; off when the OTEL_* environment does not ask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import drum_client
from support.model_dirs import SLEEPY_MODEL, write_custom_py

import drum_bridge.model_runtime
from drum_bridge import Config, TargetType
from drum_bridge.errors import ConfigError
from drum_bridge.observability.tracing import tracer_from_environment

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import ProxyTracerProvider  # noqa: E402

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Apps built in the test trace into an in-memory exporter (the global provider is untouched)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(
        drum_bridge.model_runtime, "tracer_from_environment",
        lambda environ: tracer_from_environment(environ, provider=provider),
    )
    yield exporter
    provider.shutdown()


def _spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def test_predict_is_a_drum_invocations_span_continuing_the_callers_trace(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    code_dir = write_custom_py(tmp_path / "m", SLEEPY_MODEL)
    with drum_client(Config(code_dir=code_dir, target_type=TargetType.REGRESSION)) as client:
        client.get("/ping/")
        response = client.post(
            "/predict/", content=b"sleep\n0\n",
            headers={"Content-Type": "text/csv", "traceparent": TRACEPARENT,
                     "X-DataRobot-Consumer-Id": "user-1", "X-DataRobot-Consumer-Type": "user"},
        )

    assert response.status_code == 200
    (span,) = _spans(exporter)  # /ping/ has no span, as in DRUM
    assert span.name == "drum.invocations"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
    assert dict(span.attributes or {}) == {
        "gen_ai.request.consumer_id": "user-1",
        "gen_ai.request.consumer_type": "user",
        "http.response.status_code": 200,
    }


def test_a_failing_request_marks_its_span_as_an_error(tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    code_dir = write_custom_py(tmp_path / "m", SLEEPY_MODEL)
    with drum_client(Config(code_dir=code_dir, target_type=TargetType.REGRESSION)) as client:
        response = client.post("/predict/", content=b"nosleep\n0\n", headers={"Content-Type": "text/csv"})

    assert response.status_code == 500
    (span,) = _spans(exporter)
    assert span.status.status_code.name == "ERROR"


CHAT = """
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice, ChoiceDelta

def load_model(code_dir):
    return "m"

def chat(completion_create_params, model, **kwargs):
    if completion_create_params.get("stream"):
        return iter([ChatCompletionChunk(id="c", created=1, model="m", object="chat.completion.chunk",
                     choices=[ChunkChoice(index=0, delta=ChoiceDelta(content="a"))])])
    return ChatCompletion(id="c", created=1, model="the-llm", object="chat.completion",
                          choices=[Choice(index=0, finish_reason="stop",
                                          message=ChatCompletionMessage(role="assistant", content="hello"))])
"""


def test_chat_spans_carry_drums_gen_ai_attributes_and_a_stream_child(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    pytest.importorskip("openai")
    code_dir = write_custom_py(tmp_path / "chat", CHAT)
    config = Config(code_dir=code_dir, target_type=TargetType.TEXT_GENERATION, target_name="answer")
    messages = [{"role": "user", "content": "hi"}]
    with drum_client(config) as client:
        client.post("/chat/completions", json={"model": "asked", "messages": messages},
                    headers={"traceparent": TRACEPARENT})
        exporter.clear()
        stream = client.post("/chat/completions", json={"model": "asked", "messages": messages, "stream": True})
        assert "data: [DONE]" in stream.text
    streamed = {span.name: span for span in _spans(exporter)}
    exporter.clear()
    with drum_client(config) as client:
        client.post("/chat/completions", json={"model": "asked", "messages": messages},
                    headers={"traceparent": TRACEPARENT})
    (completion,) = _spans(exporter)

    assert completion.name == "drum.chat.completions"
    attributes = dict(completion.attributes or {})
    assert attributes["gen_ai.request.model"] == "asked"
    assert attributes["gen_ai.prompt.0.role"] == "user"
    assert attributes["gen_ai.prompt"] == "hi"
    assert attributes["gen_ai.response.model"] == "the-llm"
    assert attributes["gen_ai.completion"] == "hello"
    assert format(completion.context.trace_id, "032x") == TRACE_ID
    assert set(streamed) == {"drum.chat.completions", "drum.chat.completions.stream"}
    child, parent = streamed["drum.chat.completions.stream"], streamed["drum.chat.completions"]
    assert child.parent is not None and child.parent.span_id == parent.context.span_id


def test_tracing_is_off_unless_the_environment_asks() -> None:
    proxy = ProxyTracerProvider()
    assert tracer_from_environment({}, provider=proxy) is None
    assert tracer_from_environment({"OTEL_TRACES_EXPORTER": "none"}, provider=proxy) is None
    assert tracer_from_environment(
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, provider=proxy
    ) is None
    assert tracer_from_environment(
        {"MLOPS_RUNTIME_PARAM_OTEL_SDK_DISABLED": '{"type": "boolean", "payload": true}',
         "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, provider=proxy,
    ) is None


def test_a_host_that_configured_opentelemetry_gets_drum_spans_without_otel_variables() -> None:
    provider = TracerProvider()
    assert tracer_from_environment({}, provider=provider) is not None


def test_an_exporter_that_is_not_installed_stops_start_up_with_its_name() -> None:
    with pytest.raises(ConfigError, match="no span exporter named 'zipkin-ish' is installed"):
        tracer_from_environment({"OTEL_TRACES_EXPORTER": "zipkin-ish"}, provider=ProxyTracerProvider())
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL 'carrier-pigeon'"):
        tracer_from_environment(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
            provider=ProxyTracerProvider(),
        )

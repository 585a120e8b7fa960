"""OpenTelemetry traces, when the standard ``OTEL_*`` environment asks for them.

Off, and free of cost, unless ``OTEL_TRACES_EXPORTER`` names an exporter or
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
set (what DRUM looks at), or the process already has an SDK tracer provider
(a host that configured OpenTelemetry itself); ``OTEL_SDK_DISABLED`` (also as
DRUM's runtime parameter) turns it off.  The SDK reads the rest of its
settings itself: ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (the
resource), ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_*``.
Exporters are found by name through the SDK's entry points, as
``opentelemetry-instrument`` finds them; ``otlp`` is OTLP over HTTP unless
``OTEL_EXPORTER_OTLP_PROTOCOL`` says ``grpc``.

The spans are DRUM's: one a request of the model routes (``drum.invocations``,
``drum.transform``, ``drum.predictUnstructured``, ``drum.chat.completions``
with a child ``drum.chat.completions.stream``, ``drum.directAccess``),
continuing the caller's ``traceparent``, with ``X-DataRobot-Consumer-Id`` and
``-Type`` as attributes.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from collections.abc import Mapping
from typing import Any

from ..config.runtime_parameters import read_runtime_param
from ..errors import ConfigError
from ..version import __version__

__all__ = [
    "SPAN_NAMES", "chat_request_attributes", "chat_response_attributes", "consumer_attributes",
    "tracer_from_environment",
]

logger = logging.getLogger("drum_bridge.tracing")

#: DRUM's span name of each view of the ``model_api`` blueprint that has one.
SPAN_NAMES = {
    "predict": "drum.invocations",
    "transform": "drum.transform",
    "predict_unstructured": "drum.predictUnstructured",
    "chat": "drum.chat.completions",
    "forward_request": "drum.directAccess",
}
_INSTALL = "pip install 'drum-bridge[otel]'"
_TRUE = frozenset({"1", "true", "yes", "on"})


def _disabled(environ: Mapping[str, str]) -> bool:
    """``OTEL_SDK_DISABLED``, or DRUM's runtime parameter of that name, is true."""
    for value in (environ.get("OTEL_SDK_DISABLED"), read_runtime_param("OTEL_SDK_DISABLED", environ)):
        if str(value).strip().lower() in _TRUE:
            return True
    return False


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the environment asks for; [] when it asks for none."""
    names = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not names:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return ["otlp"] if endpoint else []
    if names.lower() == "none":
        return []
    return [name.strip() for name in names.split(",") if name.strip()]


def _entry_point_name(name: str, environ: Mapping[str, str]) -> str:
    if name != "otlp":
        return name
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        return "otlp_proto_grpc"
    if protocol in ("http/protobuf", "http/json"):
        return "otlp_proto_http"
    raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r} is not one of grpc, http/protobuf")


def _exporter_class(name: str, environ: Mapping[str, str]) -> Any:
    wanted = _entry_point_name(name, environ)
    found = importlib.metadata.entry_points(group="opentelemetry_traces_exporter", name=wanted)
    for entry_point in found:
        return entry_point.load()
    hint = {
        "otlp_proto_http": " (pip install opentelemetry-exporter-otlp-proto-http, part of drum-bridge[otel])",
        "otlp_proto_grpc": " (pip install opentelemetry-exporter-otlp-proto-grpc)",
    }.get(wanted, "")
    raise ConfigError(f"OTEL_TRACES_EXPORTER: no span exporter named {name!r} is installed{hint}")


def tracer_from_environment(environ: Mapping[str, str], provider: Any = None) -> Any:
    """The tracer for drum-bridge's spans, or None when tracing is off.

    ``provider`` is the process's tracer provider (the global one by default).  When
    the environment asks for tracing and no SDK provider is set, one is built from the
    environment and made global, so that model code's own spans join the request's.
    """
    if _disabled(environ):
        return None
    names = _exporter_names(environ)
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        if names:
            raise ConfigError(
                f"OTEL_* asks for traces ({', '.join(names)}) but OpenTelemetry's SDK is not"
                f" installed: {_INSTALL}"
            ) from None
        return None
    current = trace.get_tracer_provider() if provider is None else provider
    if isinstance(current, TracerProvider):
        return current.get_tracer("drum_bridge", __version__)
    if not names:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporters = [_exporter_class(name, environ) for name in names]
    built = TracerProvider(resource=Resource.create())
    for exporter in exporters:
        built.add_span_processor(BatchSpanProcessor(exporter()))
    trace.set_tracer_provider(built)
    logger.info("OpenTelemetry traces on: exporters %s", ", ".join(names))
    return built.get_tracer("drum_bridge", __version__)


def consumer_attributes(headers: Mapping[str, str]) -> dict[str, str]:
    """DRUM's span attributes from the ``X-DataRobot-Consumer-*`` headers."""
    attributes = {}
    consumer_id = headers.get("x-datarobot-consumer-id")
    if consumer_id:
        attributes["gen_ai.request.consumer_id"] = consumer_id
    consumer_type = headers.get("x-datarobot-consumer-type")
    if consumer_type:
        attributes["gen_ai.request.consumer_type"] = consumer_type
    return attributes


def _parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        return [
            {"type": "text", "content": part["text"]}
            if isinstance(part, dict) and part.get("type") == "text" and "text" in part
            else part
            for part in content
            if isinstance(part, dict)
        ]
    return [] if content is None else [{"type": "text", "content": str(content)}]


def _attribute(value: Any) -> Any:
    """A value OpenTelemetry takes as an attribute (JSON text for anything else)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, default=str)


def _messages_attributes(
    attributes: dict[str, Any], kind: str, messages: list[tuple[Any, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """DRUM's per-message attributes (``gen_ai.<kind>.<i>.role``/``.content``, the last one's
    content as ``gen_ai.<kind>``) for ``(index, message)`` pairs; the JSON entries of them."""
    entries = []
    for index, message in messages:
        role, content = message.get("role"), message.get("content")
        attributes[f"gen_ai.{kind}.{index}.role"] = _attribute(role)
        attributes[f"gen_ai.{kind}.{index}.content"] = _attribute(content)
        attributes[f"gen_ai.{kind}"] = _attribute(content)
        entry: dict[str, Any] = {"role": role}
        parts = _parts(content)
        if parts:
            entry["parts"] = parts
        entries.append(entry)
    return entries


def _set(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None}


def chat_request_attributes(body: Any) -> dict[str, Any]:
    """DRUM's ``gen_ai.*`` attributes of a chat completion request."""
    body = body if isinstance(body, dict) else {}
    attributes: dict[str, Any] = {"gen_ai.request.model": _attribute(body.get("model"))}
    messages = [(i, m) for i, m in enumerate(body.get("messages") or []) if isinstance(m, dict)]
    entries = _messages_attributes(attributes, "prompt", messages)
    if entries:
        attributes["gen_ai.input.messages"] = json.dumps(entries, default=str)
    return _set(attributes)


def chat_response_attributes(body: Any) -> dict[str, Any]:
    """DRUM's ``gen_ai.*`` attributes of a chat completion answer."""
    body = body if isinstance(body, dict) else {}
    attributes: dict[str, Any] = {"gen_ai.response.model": _attribute(body.get("model"))}
    choices = [(i, c) for i, c in enumerate(body.get("choices") or []) if isinstance(c, dict)]
    messages = [(i, c["message"] if isinstance(c.get("message"), dict) else {}) for i, c in choices]
    entries = _messages_attributes(attributes, "completion", messages)
    for entry, (_, choice) in zip(entries, choices, strict=True):
        if choice.get("finish_reason") is not None:
            entry["finish_reason"] = choice["finish_reason"]
    if entries:
        attributes["gen_ai.output.messages"] = json.dumps(entries, default=str)
    return _set(attributes)

"""Loaded by ``bench_ops.py``'s tracing variant (``PYTHONPATH``): every process of the server
(the supervisor and its workers) gets an OpenTelemetry SDK tracer provider whose spans go to
the SDK's in-memory exporter, as a host that configured OpenTelemetry itself would have."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_provider = TracerProvider()
_provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
trace.set_tracer_provider(_provider)

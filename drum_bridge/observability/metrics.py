"""Prometheus metrics of drum-bridge, through ``prometheus-client``.

One set of metrics a process, each labelled with the model (its code dir's
name), so that two apps mounted side by side stay apart.  They live in
drum-bridge's own registry, not the global one, so a host with metrics of its
own can serve both.  With several worker processes ``PROMETHEUS_MULTIPROC_DIR``
is set before the workers start (the server does it, see
``server.metrics_dir``) and a scrape of any worker sees all of them.
"""

from __future__ import annotations

import asyncio
import bisect
import inspect
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from ..version import DRUM_VERSION, __version__

__all__ = [
    "CONTENT_TYPE_LATEST", "MULTIPROC_ENV", "ModelMetrics", "REGISTRY", "exposition", "forget_process",
]

T = TypeVar("T")

#: prometheus-client's multiprocess directory, read when it is imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: drum-bridge's registry (used when not in multiprocess mode).
REGISTRY = CollectorRegistry(auto_describe=True)
#: Methods counted by name; any other token is "other" (a client must not grow the label set).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    float("inf"),
)
#: Seconds between writes of the request counts into the metrics (a scrape writes first).
FLUSH_SECONDS = 1.0
#: Answers of the limits: body or headers too large, busy or draining, past the timeout.
LIMIT_STATUSES = frozenset({413, 431, 503, 504})

_REQUESTS = Counter(
    "drum_bridge_requests", "Requests answered, by route template and status",
    ("model", "method", "route", "status"), registry=REGISTRY,
)
_LATENCY = Histogram(
    "drum_bridge_request_duration_seconds", "Time from the request's start to its response's end",
    ("model", "method", "route"), buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
_IN_PROGRESS = Gauge(
    "drum_bridge_requests_in_progress", "Requests being served", ("model",),
    multiprocess_mode="livesum", registry=REGISTRY,
)
_LIMITED = Counter(
    "drum_bridge_limit_responses", "Answers 413, 431, 503 and 504: limits, back-pressure, timeouts",
    ("model", "status"), registry=REGISTRY,
)
_BUSY = Gauge(
    "drum_bridge_model_threads_busy", "Model threads running model code", ("model",),
    multiprocess_mode="livesum", registry=REGISTRY,
)
_WAITING = Gauge(
    "drum_bridge_model_queue_depth", "Model calls waiting for a model thread", ("model",),
    multiprocess_mode="livesum", registry=REGISTRY,
)
_MODEL_SECONDS = Histogram(
    "drum_bridge_model_call_duration_seconds", "Time model code ran for one call (score, chat, ...)",
    ("model",), buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
_BATCH_REQUESTS = Histogram(
    "drum_bridge_predict_batch_requests",
    "Requests scored by one model call of /predict/ (1: alone; more: adaptive batching)",
    ("model",), buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, float("inf")), registry=REGISTRY,
)
_BATCH_ROWS = Histogram(
    "drum_bridge_predict_batch_rows", "Rows scored by one batched model call of /predict/",
    ("model",), buckets=(1, 5, 10, 50, 100, 500, 1000, 5000, 10000, float("inf")), registry=REGISTRY,
)
_BATCH_RESCORED = Counter(
    "drum_bridge_predict_batches_rescored_alone",
    "Batched model calls that failed as a whole; their requests were then scored alone",
    ("model",), registry=REGISTRY,
)
_STREAMS = Counter(
    "drum_bridge_streams", "Chat streams started", ("model",), registry=REGISTRY,
)
_STREAMS_OPEN = Gauge(
    "drum_bridge_streams_in_progress", "Chat streams being sent", ("model",),
    multiprocess_mode="livesum", registry=REGISTRY,
)
_LOAD_SECONDS = Gauge(
    "drum_bridge_model_load_seconds", "Time the model took to load", ("model",),
    multiprocess_mode="max", registry=REGISTRY,
)
_BUILD = Gauge(
    "drum_bridge_build_info", "drum-bridge's version and the DRUM version it serves",
    ("version", "drum_version"), multiprocess_mode="max", registry=REGISTRY,
)
_BUILD.labels(__version__, DRUM_VERSION).set(1)
# CPU, memory and open files of this process (not aggregated across worker processes).
ProcessCollector(registry=REGISTRY)


def method_label(method: str) -> str:
    return method if method in _METHODS else "other"


class ModelMetrics:
    """The metrics of one app (one model)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.in_progress = _IN_PROGRESS.labels(model)
        self.busy = _BUSY.labels(model)
        self.waiting = _WAITING.labels(model)
        self.model_seconds = _MODEL_SECONDS.labels(model)
        self.streams = _STREAMS.labels(model)
        self.streams_open = _STREAMS_OPEN.labels(model)
        self.load_seconds = _LOAD_SECONDS.labels(model)
        #: Requests per model call of /predict/ (its count: the model calls).
        self.batch_requests = _BATCH_REQUESTS.labels(model)
        #: Rows per batched model call (calls of one request are not observed).
        self.batch_rows = _BATCH_ROWS.labels(model)
        self.batches_rescored_alone = _BATCH_RESCORED.labels(model)
        #: Requests being served (a plain count; the gauge is set when flushed).
        self.active = 0
        # Requests answered since the last flush: (method, route, status) -> count, seconds,
        # per-bucket counts.  Kept here and written to prometheus-client's values (locked
        # mmap writes in multiprocess mode, ~5 us a request) at most once a second.
        self._pending: dict[tuple[str, str, int], list[Any]] = {}
        self._flush_armed = False
        # Seconds of model calls since the last flush (appended by model threads: a deque's
        # append is atomic), and /predict/ calls of one request each.
        self._model_seconds: deque[float] = deque()
        self._single_calls = 0
        #: (busy, waiting) of the model threads, read when the metrics are written.
        self.sample_pool: Callable[[], tuple[int, int]] | None = None

    def started(self) -> None:
        """A request began (on the event loop)."""
        self.active += 1
        if not self._flush_armed:
            self._arm()

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request ended: its response sent (or none was: status 0)."""
        self.active -= 1
        key = (method_label(method), route, status)
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= 10_000:  # a label set run wild: write what was kept
                self.flush()
            pending = self._pending[key] = [0, 0.0, [0] * len(_LATENCY_BUCKETS)]
        pending[0] += 1
        pending[1] += seconds
        pending[2][bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        if not self._flush_armed:
            self._arm()

    def _arm(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_armed = True
        loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write what was counted since the last flush into the metrics (a scrape does first)."""
        self._flush_armed = False
        self.in_progress.set(self.active)
        if self.sample_pool is not None:
            self.pool(*self.sample_pool())
        pending, self._pending = self._pending, {}
        for (method, route, status), (count, seconds, buckets) in pending.items():
            _REQUESTS.labels(self.model, method, route, str(status)).inc(count)
            _bulk_observe(_LATENCY.labels(self.model, method, route), seconds, buckets)
            if status in LIMIT_STATUSES:
                _LIMITED.labels(self.model, str(status)).inc(count)
        if self._model_seconds:
            buckets = [0] * len(_LATENCY_BUCKETS)
            total = 0.0
            popleft = self._model_seconds.popleft
            for _ in range(len(self._model_seconds)):
                seconds = popleft()
                total += seconds
                buckets[bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1
            _bulk_observe(self.model_seconds, total, buckets)
        if self._single_calls:
            single, self._single_calls = self._single_calls, 0
            _bulk_observe(self.batch_requests, single, [single])  # all in the bucket "<= 1"

    def single_call(self) -> None:
        """A /predict/ model call of one request (on the event loop; written when flushed)."""
        self._single_calls += 1
        if not self._flush_armed:
            self._arm()

    def timed(self, func: Callable[..., T]) -> Callable[..., T]:
        """``func``, timing each call into the model-call histogram (``async def`` stays so).

        The time is kept until the next flush, which the request's end arms.
        """
        observe = self._model_seconds.append
        if inspect.iscoroutinefunction(func):

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    observe(time.perf_counter() - start)

            return call_async  # type: ignore[return-value]

        def call(*args: Any, **kwargs: Any) -> T:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)

        return call

    def pool(self, busy: int, waiting: int) -> None:
        self.busy.set(busy)
        self.waiting.set(waiting)


def _bulk_observe(histogram: Histogram, total: float, buckets: list[int]) -> None:
    """Observations counted per bucket (not cumulative, as prometheus-client keeps them)."""
    histogram._sum.inc(total)  # noqa: SLF001 - a bulk observe: no public API
    for index, hits in enumerate(buckets):
        if hits:
            histogram._buckets[index].inc(hits)  # noqa: SLF001


def forget_process(pid: int) -> None:
    """A worker process ended: its live gauges (in progress, busy, waiting) stop counting."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        _multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """The metrics in Prometheus' text format: all workers' in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)

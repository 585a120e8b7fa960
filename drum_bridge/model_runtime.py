"""The per-app runtime: the loaded model (or why it failed) and the pool that runs it.

One ``DrumRuntime`` per app, so two apps can be mounted side by side; what they
share is the process's: each code dir goes on ``sys.path``, as under DRUM.
``startup()`` is what a lifespan calls.  A mounted app gets no lifespan events
of its own: the host enters the app's ``lifespan_context`` from its lifespan,
or else the model loads on first use (``ensure_loaded``): the first requests
wait for the one load, and a failure is remembered, not retried.  Model code
runs through ``run_model``: bounded in time (504) and in queue length (503),
and refused once the server drains (503).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread

from .config import Config
from .errors import DrumHTTPError, GatewayTimeoutError, ServiceUnavailableError
from .model.predictor import LoadedModel, load_model
from .observability.metrics import ModelMetrics
from .observability.tracing import tracer_from_environment
from .process_stats import ProcessStats
from .thread_pool import CallTimeoutError, PoolClosedError, PoolFullError, ThreadPool

T = TypeVar("T")

__all__ = ["DrumRuntime", "request_timed_out"]

logger = logging.getLogger("drum_bridge.runtime")


def request_timed_out(timeout: float | None) -> GatewayTimeoutError:
    """The 504 for model code that ran past the request timeout."""
    return GatewayTimeoutError(
        f"The model did not answer within the request timeout of {timeout:g} s"
        " (DRUM_CLIENT_REQUEST_TIMEOUT / --request-timeout)"
    )


class DrumRuntime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.executor = ThreadPool(
            config.model_threads, "drum-model", max_waiting=config.max_waiting_requests
        )
        self.stats = ProcessStats()
        self.model: LoadedModel | None = None
        #: With ``with_error_server``: the message every DRUM route answers with 513.
        self.load_error: str | None = None
        #: Why startup() failed, for the one-line report of a failed start.
        self.startup_error: BaseException | None = None
        #: Called as the lifespan starts, before the model loads (the server chains its drain
        #: to the signal handlers then: they are in place under uvicorn and gunicorn alike).
        self.on_startup: list[Callable[[], None]] = []
        #: Called once the lifespan has loaded the model (or started the error server), before
        #: the first request is served (the server freezes its start-up heap then).
        self.on_loaded: list[Callable[[], None]] = []
        #: Called at shutdown, in order (the legacy Flask mount stops its responses).
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []
        #: Called as draining begins: each answers the requests it holds 503; how many.
        self.on_drain: list[Callable[[], int]] = []
        # One load at a time: a lifespan and first requests, or concurrent first requests.
        self._starting = asyncio.Lock()
        self._shut_down = False
        #: SIGTERM came: /readyz answers 503, new model calls are refused.
        self.draining = False
        #: Prometheus metrics of this app (None with metrics off).
        self.metrics = ModelMetrics(config.code_dir.name) if config.metrics else None
        if self.metrics is not None:
            self.metrics.sample_pool = self._pool_state
        #: OpenTelemetry tracer (None when the OTEL_* environment does not ask for traces).
        self.tracer: Any = tracer_from_environment(os.environ)
        self._background_load: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Load the model in a worker thread; a failure raises unless the error server is on.

        Loads once: a later call returns at once, or raises the same failure again.
        """
        for callback in self.on_startup:
            callback()
        self.on_startup = []
        async with self._starting:
            await self._load()
        for callback in self.on_loaded:
            callback()
        self.on_loaded = []

    async def ensure_loaded(self) -> None:
        """The model, loaded on first use when no lifespan loaded it (a mounted app).

        Concurrent first requests wait for the one load.  A failure (without the error
        server) is logged once and remembered: this and every later call raise a 500
        naming the cause, and the load is not retried (fix the model, build the app again).
        """
        if self._unloaded():
            async with self._starting:
                if self._unloaded():  # else another request loaded it while this one waited
                    try:
                        await self._load()
                    except Exception as exc:
                        if exc is not self.startup_error:
                            raise  # the app has shut down: 503
                        logger.error(
                            "Model failed to load on first use; its DRUM routes answer 500"
                            " until the app is built again: %s",
                            exc,
                            exc_info=self.config.show_stacktrace,
                        )
        if self.startup_error is not None:
            raise DrumHTTPError(f"Model failed to load: {self.startup_error}")

    def _unloaded(self) -> bool:
        return self.model is None and self.load_error is None and self.startup_error is None

    async def _load(self) -> None:
        if self.startup_error is not None:
            raise self.startup_error
        if self.model is not None or self.load_error is not None:
            return
        if self._shut_down:
            raise ServiceUnavailableError("The server has shut down; retry on another replica")
        start = time.perf_counter()
        try:
            # Not the model executor: loading may take long and must not count as scoring.
            self.model = await anyio.to_thread.run_sync(load_model, self.config)
            if self.metrics is not None:
                self.metrics.load_seconds.set(time.perf_counter() - start)
        except Exception as exc:
            # As in DRUM, any failure to start (custom.py, init, load_model, the artifact)
            # is served as the error server's 513 when asked for.
            if not self.config.with_error_server:
                self.startup_error = exc
                raise
            self.load_error = str(exc)
            logger.error(
                "Model failed to load; serving the error server (513): %s",
                exc,
                exc_info=self.config.show_stacktrace,
            )

    def _pool_state(self) -> tuple[int, int]:
        """Model threads busy, and model calls waiting for one."""
        return self.executor.busy, self.executor.waiting

    async def run_model(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run model code in a model thread (``async def`` code on the loop), bounded.

        503 with ``Retry-After`` when every thread is busy and the queue is full, or
        when the server drains; 504 past the request timeout (the thread goes on,
        counted as busy until it returns).
        """
        timeout = self.config.request_timeout or None
        metrics = self.metrics
        if metrics is not None:
            func = metrics.timed(func)
        try:
            return await self.executor.run_until(timeout, func, *args, **kwargs)
        except PoolFullError as exc:
            raise ServiceUnavailableError(
                f"The server is busy: all {self.config.model_threads} model threads are busy and"
                f" {self.config.max_waiting_requests} requests wait (--max-waiting-requests);"
                " retry later"
            ) from exc
        except PoolClosedError as exc:
            raise ServiceUnavailableError(f"{exc}; retry on another replica") from exc
        except CallTimeoutError as exc:
            raise request_timed_out(timeout) from exc

    async def continue_model(self, func: Callable[..., T], *args: Any) -> T:
        """A further step of a request already served (a stream's next chunk): as
        ``run_model`` but never refused, so that it can finish while the server drains."""
        timeout = self.config.request_timeout or None
        try:
            return await self.executor.continue_until(timeout, func, *args)
        except CallTimeoutError as exc:
            raise request_timed_out(timeout) from exc

    def begin_drain(self) -> int:
        """Shutdown began: refuse new model calls, answer the queued ones 503; how many."""
        self.draining = True
        answered = self.executor.close("The server is shutting down")
        return answered + sum(callback() for callback in self.on_drain)

    @property
    def state(self) -> str:
        """Where the app is: ``not loaded``, ``loading``, ``ready``, ``failed`` or ``draining``."""
        if self.draining or self._shut_down:
            return "draining"
        if self.model is not None:
            return "ready"
        if self.load_error is not None or self.startup_error is not None:
            return "failed"
        return "loading" if self._starting.locked() else "not loaded"

    def load_in_background(self) -> None:
        """Start loading the model (a probe of a mounted app asked): once, without waiting."""
        if self._unloaded() and not self._starting.locked() and self._background_load is None:
            self._background_load = asyncio.ensure_future(self._load_quietly())

    async def _load_quietly(self) -> None:
        try:
            await self.ensure_loaded()
        except Exception:
            pass  # logged by ensure_loaded; requests report it

    async def shutdown(self) -> None:
        """Release what the model and the extensions hold; a second call does nothing."""
        if self._shut_down:
            return
        self._shut_down = True
        try:
            for callback in self.on_shutdown:
                await callback()
        finally:
            self.executor.shutdown()
            if self.metrics is not None:
                self.metrics.flush()
            if self.tracer is not None:
                _flush_spans()

    @property
    def loaded(self) -> LoadedModel:
        if self.model is None:
            raise RuntimeError(
                "The model is not loaded: enter the app's lifespan_context() (or await"
                " DrumRuntime.ensure_loaded()) first"
            )
        return self.model


def _flush_spans() -> None:
    """Export the spans still buffered (the process may end next)."""
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush()

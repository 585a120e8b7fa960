"""Adaptive batching of structured ``/predict/``: the event-loop half.

A request that finds a model call slot free is scored at once, alone: no request
waits for a partner when the model is idle.  There is a slot per CPU the process
may use (at most ``--model-threads``).  Requests that arrive while every slot is
busy with ``/predict/`` wait here; as soon as a slot is free,
those waiting (up to ``--batch-max-requests`` requests and ``--batch-max-rows``
rows) go into one model call, ``model.batch.predict_together``, which answers
each exactly as it would have been answered alone.  A call that fails as a
whole is re-run for each request alone.

The limits stay those of a model call: a batch is one call in the runtime's
pool (``run_model``: 503 when the pool is full or draining, the request
timeout).  A request waits here at most the request timeout (504), and at most
``--max-waiting-requests`` requests wait here (503 with ``Retry-After`` past it).

With ``--batching auto`` (the default), the requests of the first batched calls,
``CHECKED_REQUESTS`` of them, are also scored alone and answered that way; if one
answer alone differs from its batched answer in any byte, batching stops for the
model (a warning says so) and every request is scored alone from then on.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from dataclasses import dataclass

from .config import Batching
from .errors import DrumHTTPError, ServiceUnavailableError
from .model.batch import (
    Answer,
    BatchLimits,
    BatchReport,
    batching_applies,
    joinable_rows,
)
from .model.batch import predict_together as _predict_together
from .model.payload import Payload
from .model.predictor import LoadedModel
from .model_runtime import DrumRuntime, request_timed_out
from .process_stats import usable_cpus

__all__ = ["CHECKED_REQUESTS", "PredictBatcher", "count_predict_call", "predict_batcher"]

logger = logging.getLogger("drum_bridge.batcher")

#: ``--batching auto``: requests of batched calls checked against their answers alone.
CHECKED_REQUESTS = 256

_BATCHERS: weakref.WeakKeyDictionary[DrumRuntime, PredictBatcher | None] = (
    weakref.WeakKeyDictionary()
)


def predict_batcher(runtime: DrumRuntime) -> PredictBatcher | None:
    """The batcher of ``runtime``'s loaded model, or None when batching does not apply."""
    try:
        return _BATCHERS[runtime]
    except KeyError:
        pass
    model = runtime.loaded
    batcher = PredictBatcher(runtime, model) if batching_applies(model) else None
    runtime.stats.predict_calls.batching = batcher is not None
    if batcher is not None:
        if batcher.check_left > 0:
            runtime.stats.predict_calls.batching_check = "running"
        runtime.on_drain.append(batcher.drain)
    _BATCHERS[runtime] = batcher
    return batcher


@dataclass(eq=False)
class _Waiting:
    payload: Payload
    rows: int
    future: asyncio.Future[bytes]
    since: float
    deadline: asyncio.TimerHandle | None = None
    taken: bool = False


class PredictBatcher:
    """Per app: the ``/predict/`` requests waiting for a model thread, and their batches."""

    def __init__(self, runtime: DrumRuntime, model: LoadedModel) -> None:
        config = runtime.config
        self.runtime = runtime
        self.model = model
        self.limits = BatchLimits(
            max_rows=config.batch_max_rows, max_requests=config.batch_max_requests
        )
        self.max_wait_s = config.batch_max_wait_ms / 1000.0
        #: Model calls of /predict/ at once: one per CPU the process may use, at most one per
        #: model thread.  More calls than CPUs would only share the CPUs; waiting requests
        #: batched into fewer calls pay the model's fixed cost fewer times.
        self.slots = min(config.model_threads, usable_cpus())
        #: Requests still to check against their answers alone (``--batching auto``).
        self.check_left = CHECKED_REQUESTS if config.batching is Batching.AUTO else 0
        #: Batching stopped: a checked request's answers differed.
        self.stopped = False
        self._waiting: deque[_Waiting] = deque()
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._batches: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Requests waiting for a model thread to share it."""
        return len(self._waiting)

    async def predict(self, payload: Payload) -> bytes:
        """The ``/predict/`` body for ``payload``, as ``model.predict`` answers it."""
        if self.stopped or (self._in_flight < self.slots and not self._waiting):
            return await self._alone(payload)
        rows = joinable_rows(payload, self.limits)
        if rows is None:
            return await self._alone(payload)
        return await self._wait(payload, rows)

    async def _alone(self, payload: Payload) -> bytes:
        self._in_flight += 1
        try:
            body = await self.runtime.run_model(self.model.predict, payload)
        except ServiceUnavailableError:
            raise  # refused: no model call
        except Exception:
            self._count(1, None)
            raise
        finally:
            self._in_flight -= 1
            self._dispatch()
        self._count(1, None)
        return body

    async def _wait(self, payload: Payload, rows: int) -> bytes:
        config = self.runtime.config
        if self.runtime.draining:
            raise _shutting_down()
        if len(self._waiting) >= config.max_waiting_requests:
            raise ServiceUnavailableError(
                f"The server is busy: all {config.model_threads} model threads are busy and"
                f" {config.max_waiting_requests} requests wait (--max-waiting-requests);"
                " retry later"
            )
        loop = asyncio.get_running_loop()
        waiting = _Waiting(payload, rows, loop.create_future(), loop.time())
        timeout = config.request_timeout or None
        if timeout is not None:
            waiting.deadline = loop.call_later(timeout, self._expire, waiting, timeout)
        self._waiting.append(waiting)
        self._dispatch()
        try:
            return await waiting.future
        finally:
            if waiting.deadline is not None:
                waiting.deadline.cancel()
            if not waiting.taken:
                self._forget(waiting)

    def drain(self) -> int:
        """Draining began: the requests still waiting answer 503 at once; how many."""
        answered = 0
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.future.done():
                waiting.future.set_exception(_shutting_down())
                answered += 1
        return answered

    def _expire(self, waiting: _Waiting, timeout: float) -> None:
        """The request timeout passed: 504, whether it still waits or its batch runs."""
        if not waiting.future.done():
            waiting.future.set_exception(request_timed_out(timeout))
        if not waiting.taken:
            self._forget(waiting)

    def _forget(self, waiting: _Waiting) -> None:
        try:
            self._waiting.remove(waiting)
        except ValueError:
            pass

    def _dispatch(self) -> None:
        """Start batches of the waiting requests while a model thread is free."""
        while self._waiting and self._in_flight < self.slots:
            if self.max_wait_s > 0 and not self._full():
                loop = asyncio.get_running_loop()
                delay = self._waiting[0].since + self.max_wait_s - loop.time()
                if delay > 0:
                    if self._timer is None:
                        self._timer = loop.call_later(delay, self._on_timer)
                    return
            batch = self._take()
            if not batch:
                return
            self._in_flight += 1
            task = asyncio.ensure_future(self._run(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    def _full(self) -> bool:
        if len(self._waiting) >= self.limits.max_requests:
            return True
        return sum(w.rows for w in self._waiting) >= self.limits.max_rows

    def _take(self) -> list[_Waiting]:
        batch: list[_Waiting] = []
        rows = 0
        while self._waiting and len(batch) < self.limits.max_requests:
            waiting = self._waiting[0]
            if waiting.future.done():  # expired or cancelled
                self._waiting.popleft()
                continue
            if batch and rows + waiting.rows > self.limits.max_rows:
                break
            self._waiting.popleft()
            waiting.taken = True
            batch.append(waiting)
            rows += waiting.rows
        return batch

    async def _run(self, batch: list[_Waiting]) -> None:
        try:
            if len(batch) == 1:
                await self._settle_alone(batch[0])
                return
            payloads = [w.payload for w in batch]
            report = await self.runtime.run_model(
                _predict_together, self.model, payloads, check=self.check_left > 0
            )
        except DrumHTTPError as exc:
            # Refused, draining or past the timeout: each request's answer alone too.
            for waiting in batch:
                _settle(waiting.future, None, exc)
            return
        except asyncio.CancelledError:
            for waiting in batch:
                waiting.future.cancel()
            raise
        except Exception:
            # The batch itself failed (model code ended its thread): each request alone.
            logger.warning("A batched model call failed; its requests are scored alone", exc_info=True)
            self._rescored()
            await asyncio.gather(*(self._settle_alone(w) for w in batch))
            return
        finally:
            self._in_flight -= 1
            self._dispatch()
        self._record(report)
        for waiting, answer in zip(batch, report.answers, strict=True):
            _settle(waiting.future, answer.body, answer.error)

    async def _settle_alone(self, waiting: _Waiting) -> None:
        try:
            body = await self.runtime.run_model(self.model.predict, waiting.payload)
        except Exception as exc:
            if not isinstance(exc, ServiceUnavailableError):
                self._count(1, None)
            _settle(waiting.future, None, exc)
        else:
            self._count(1, None)
            _settle(waiting.future, body, None)

    def _record(self, report: BatchReport) -> None:
        for requests, rows in report.calls:
            self._count(requests, rows)
        for _ in range(report.rescored_alone):
            self._rescored()
        if report.checked:
            self._checked(report)

    def _checked(self, report: BatchReport) -> None:
        """Count the checked requests; stop batching at the first difference."""
        calls = self.runtime.stats.predict_calls
        calls.checked_requests += report.checked
        calls.model_calls += report.checked  # each scored alone too
        if self.stopped:
            return
        if report.difference is not None:
            self.stopped, self.check_left = True, 0
            calls.batching, calls.batching_check = False, "failed"
            alone, batched = report.difference
            logger.warning(
                "Adaptive batching is off for this model from now on: a request scored in a"
                " batch was answered otherwise than alone (%d of %d requests checked so far"
                " differed). Alone: %s; in the batch: %s. Models whose arithmetic runs through"
                " BLAS may round a row's last digit otherwise in a larger call. Start with"
                " --batching on to batch anyway, or --batching off not to check.",
                report.differed, calls.checked_requests, _shown(alone), _shown(batched),
            )
            return
        self.check_left -= report.checked
        if self.check_left <= 0 and calls.batching_check == "running":
            calls.batching_check = "passed"
            logger.info(
                "Adaptive batching checked: %d requests scored in batches were answered"
                " byte for byte as alone; batching on", calls.checked_requests,
            )

    def _count(self, requests: int, rows: int | None) -> None:
        count_predict_call(self.runtime, requests, rows)

    def _rescored(self) -> None:
        self.runtime.stats.predict_calls.batches_rescored_alone += 1
        if self.runtime.metrics is not None:
            self.runtime.metrics.batches_rescored_alone.inc()


def count_predict_call(runtime: DrumRuntime, requests: int = 1, rows: int | None = None) -> None:
    """One model call of ``/predict/`` that scored ``requests`` requests (``rows`` rows when
    batched), for ``/stats/`` and the metrics."""
    runtime.stats.predict_calls.add(requests)
    metrics = runtime.metrics
    if metrics is None:
        return
    if requests == 1:
        metrics.single_call()
    else:
        metrics.batch_requests.observe(requests)
        if rows is not None:
            metrics.batch_rows.observe(rows)


def _shown(answer: Answer) -> str:
    """An answer in a log line: its body's start, or its error."""
    if answer.error is not None:
        return f"error {answer.error!r}"[:300]
    text = (answer.body or b"").decode("utf-8", "replace")
    return text if len(text) <= 300 else text[:300] + "..."


def _shutting_down() -> ServiceUnavailableError:
    # The words run_model answers once the pool is closed.
    return ServiceUnavailableError("The server is shutting down; retry on another replica")


def _settle(future: asyncio.Future[bytes], body: bytes | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert body is not None
        future.set_result(body)

"""``ThreadPool``: model code and Flask hooks leave the event loop, bounded, and never overlap
a request's later steps, even when the request is cancelled."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Iterator

import pytest

from drum_bridge.thread_pool import (
    CallAbortedError,
    CallTimeoutError,
    PoolClosedError,
    PoolFullError,
    ThreadPool,
)

#: Upper bound for anything the tests wait for; reached only when the pool is broken.
WAIT_S = 10.0


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    pool = ThreadPool(2, "test-pool")
    yield pool
    pool.shutdown()


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` from the loop until it holds."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the pool never got there"
        await asyncio.sleep(0.001)


@pytest.mark.anyio
async def test_calls_run_off_the_event_loop_and_answer(pool: ThreadPool) -> None:
    loop_thread = threading.get_ident()
    ident, total = await pool.run(lambda a, b: (threading.get_ident(), a + b), 2, b=3)
    assert total == 5
    assert ident != loop_thread


@pytest.mark.anyio
async def test_an_exception_reaches_the_caller(pool: ThreadPool) -> None:
    def fail() -> None:
        raise LookupError("no such model")

    with pytest.raises(LookupError, match="no such model"):
        await pool.run(fail)
    # The thread survived it.
    assert await pool.run(lambda: "still serving") == "still serving"


@pytest.mark.anyio
async def test_async_callables_are_awaited_on_the_loop(pool: ThreadPool) -> None:
    async def on_loop() -> int:
        return threading.get_ident()

    assert await pool.run(on_loop) == threading.get_ident()


@pytest.mark.anyio
async def test_no_more_calls_run_at_once_than_threads(pool: ThreadPool) -> None:
    release = threading.Event()
    lock = threading.Lock()
    running = 0
    most = 0

    def blocking() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(WAIT_S)
        with lock:
            running -= 1

    tasks = [asyncio.create_task(pool.run(blocking)) for _ in range(5)]
    await _until(lambda: running == 2)
    # A third call has had every chance to start: the loop ran, the queue holds three.
    for _ in range(20):
        await asyncio.sleep(0)
    assert running == 2
    release.set()
    await asyncio.gather(*tasks)
    assert most == 2


@pytest.mark.anyio
async def test_a_cancelled_call_is_waited_for_before_the_cancellation_goes_on(
    pool: ThreadPool,
) -> None:
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(WAIT_S)
        finished.set()
        return "done"

    task = asyncio.create_task(pool.run(slow))
    await _until(started.is_set)
    task.cancel()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done(), "the cancellation went on while the thread still ran the call"
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()


@pytest.mark.anyio
async def test_a_timeout_fires_once_the_thread_is_done(pool: ThreadPool) -> None:
    release = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        release.wait(WAIT_S)
        finished.set()

    task = asyncio.create_task(asyncio.wait_for(pool.run(slow), 0.01))
    # Time is what this test is about: let the timeout pass while the call still runs.
    await asyncio.sleep(0.05)
    assert not task.done()
    release.set()
    with pytest.raises(TimeoutError):
        await task
    assert finished.is_set()


@pytest.mark.anyio
async def test_a_cancellation_before_the_call_starts_skips_nothing_later(
    pool: ThreadPool,
) -> None:
    # Both threads busy: the third call waits in the queue when it is cancelled.
    release = threading.Event()
    busy = [asyncio.create_task(pool.run(release.wait, WAIT_S)) for _ in range(2)]
    ran = threading.Event()
    queued = asyncio.create_task(pool.run(ran.set))
    for _ in range(20):
        await asyncio.sleep(0)
    queued.cancel()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not queued.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await queued
    await asyncio.gather(*busy)
    # The pool still serves.
    assert await pool.run(lambda: 42) == 42


@pytest.mark.anyio
async def test_close_answers_queued_calls_at_once_and_lets_running_ones_finish() -> None:
    pool = ThreadPool(1, "test-close")
    release = threading.Event()
    ran: list[int] = []
    try:
        running = asyncio.create_task(pool.run(lambda: (release.wait(WAIT_S), ran.append(1))))
        await _until(lambda: pool.busy == 1)
        queued = [asyncio.create_task(pool.run(ran.append, n)) for n in (2, 3)]
        await _until(lambda: pool.waiting == 2)
        assert pool.close("draining") == 2
        for task in queued:
            with pytest.raises(PoolClosedError, match="draining"):
                await task
        with pytest.raises(PoolClosedError, match="draining"):
            await pool.run(ran.append, 4)
        assert not running.done()
        release.set()
        await running
        await asyncio.sleep(0.05)
        assert ran == [1] and pool.waiting == 0
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.anyio
async def test_shutdown_releases_the_callers_of_stuck_calls() -> None:
    pool = ThreadPool(1, "test-shutdown")
    release = threading.Event()
    finished = threading.Event()
    stuck = asyncio.create_task(pool.run(lambda: (release.wait(WAIT_S), finished.set())))
    await _until(lambda: pool.busy == 1)
    pool.shutdown()
    with pytest.raises(PoolClosedError, match="shut down before the call returned"):
        await stuck
    assert not finished.is_set()  # the thread goes on; nothing on the loop waits for it
    release.set()
    await _until(finished.is_set)


@pytest.mark.anyio
@pytest.mark.parametrize("exit_exception", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
async def test_exits_raised_by_a_call_are_answered_as_errors(
    pool: ThreadPool, exit_exception: BaseException
) -> None:
    def exits() -> None:
        raise exit_exception

    with pytest.raises(CallAbortedError, match=f"The call raised {type(exit_exception).__name__}") as caught:
        await pool.run(exits)
    assert caught.value.__cause__ is exit_exception
    assert await pool.run(lambda: "still serving") == "still serving"


@pytest.mark.anyio
async def test_a_full_queue_refuses_at_once_and_frees_with_the_threads() -> None:
    pool = ThreadPool(2, "test-bounded", max_waiting=1)
    release = threading.Event()
    try:
        running = [asyncio.create_task(pool.run(release.wait, WAIT_S)) for _ in range(2)]
        await _until(lambda: pool.busy == 2)
        queued = asyncio.create_task(pool.run(lambda: "queued"))
        await _until(lambda: pool.waiting == 1)
        ran = threading.Event()
        with pytest.raises(PoolFullError, match="All 2 test-bounded threads are busy and 1 calls wait"):
            await pool.run(ran.set)
        assert pool.waiting == 1 and pool.busy == 2
        release.set()
        assert await queued == "queued"
        await asyncio.gather(*running)
        await _until(lambda: pool.busy == 0)
        # Refused means never run, and the pool takes calls again once threads are free.
        assert not ran.is_set()
        assert await pool.run(lambda: 7) == 7
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.anyio
async def test_no_bound_by_default(pool: ThreadPool) -> None:
    release = threading.Event()
    tasks = [asyncio.create_task(pool.run(release.wait, WAIT_S)) for _ in range(50)]
    await _until(lambda: pool.busy == 2 and pool.waiting == 48)
    release.set()
    assert all(await asyncio.gather(*tasks))


@pytest.mark.anyio
async def test_a_bounded_wait_releases_the_caller_and_counts_the_thread(pool: ThreadPool) -> None:
    release = threading.Event()
    finished = threading.Event()

    def stuck() -> str:
        release.wait(WAIT_S)
        finished.set()
        return "late"

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(CallTimeoutError, match=r"did not return within 0\.05 s"):
        await pool.run_until(0.05, stuck)
    assert loop.time() - started < WAIT_S / 2
    # The caller is gone; the thread is not, and the pool knows it.
    assert not finished.is_set()
    assert pool.busy == 1
    assert await pool.run(lambda: "other thread") == "other thread"
    release.set()
    await _until(lambda: pool.busy == 0)
    assert finished.is_set()


@pytest.mark.anyio
async def test_a_call_still_queued_at_its_deadline_never_runs() -> None:
    pool = ThreadPool(1, "test-deadline")
    release = threading.Event()
    ran = threading.Event()
    try:
        blocker = asyncio.create_task(pool.run(release.wait, WAIT_S))
        await _until(lambda: pool.busy == 1)
        with pytest.raises(CallTimeoutError):
            await pool.run_until(0.02, ran.set)
        assert pool.waiting == 0
        release.set()
        await blocker
        assert await pool.run(lambda: "next") == "next"
        assert not ran.is_set()
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.anyio
async def test_a_bounded_wait_answers_like_run_in_time(pool: ThreadPool) -> None:
    assert await pool.run_until(WAIT_S, lambda a, b: a * b, 6, b=7) == 42

    def fail() -> None:
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await pool.run_until(WAIT_S, fail)
    assert await pool.run_until(None, lambda: "unbounded") == "unbounded"
    assert pool.busy == 0 and pool.waiting == 0


@pytest.mark.anyio
async def test_a_bounded_wait_on_a_coroutine_is_released_too(pool: ThreadPool) -> None:
    async def slow() -> None:
        await asyncio.sleep(WAIT_S)

    with pytest.raises(CallTimeoutError):
        await pool.run_until(0.02, slow)


@pytest.mark.anyio
async def test_an_exception_after_the_deadline_is_not_reported_as_unretrieved(
    pool: ThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def fails_late() -> None:
        release.wait(WAIT_S)
        raise RuntimeError("too late to matter")

    with pytest.raises(CallTimeoutError):
        await pool.run_until(0.02, fails_late)
    release.set()
    await _until(lambda: pool.busy == 0)
    await asyncio.sleep(0)
    gc.collect()
    assert "exception was never retrieved" not in caplog.text


@pytest.mark.anyio
async def test_a_continued_call_runs_in_a_full_or_closed_pool() -> None:
    pool = ThreadPool(1, "test-continue", max_waiting=0)
    release = threading.Event()
    try:
        running = asyncio.create_task(pool.run(release.wait, WAIT_S))
        await _until(lambda: pool.busy == 1)
        with pytest.raises(PoolFullError):
            await pool.run(lambda: "refused")
        # The next step of work already admitted (a stream's next chunk) waits its turn instead.
        step = asyncio.create_task(pool.continue_until(WAIT_S, lambda: "next chunk"))
        await _until(lambda: pool.waiting == 1)
        pool.close("draining")
        assert not step.done()
        release.set()
        assert await step == "next chunk"
        await running
        with pytest.raises(PoolClosedError):
            await pool.run(lambda: "refused")
        assert await pool.continue_until(None, lambda: "still finishing") == "still finishing"
    finally:
        release.set()
        pool.shutdown()

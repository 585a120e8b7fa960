"""``ThreadPool``: model code and Flask hooks leave the event loop, bounded, and never overlap
a request's later steps, even when the request is cancelled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from drum_bridge.threads import ThreadPool

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
async def test_shutdown_lets_queued_calls_finish() -> None:
    pool = ThreadPool(1, "test-shutdown")
    release = threading.Event()
    done: list[int] = []
    first = asyncio.create_task(pool.run(lambda: (release.wait(WAIT_S), done.append(1))))
    second = asyncio.create_task(pool.run(done.append, 2))
    for _ in range(20):
        await asyncio.sleep(0)
    pool.shutdown()
    release.set()
    await asyncio.gather(first, second)
    assert done == [1, 2]

"""``StartupErrorMiddleware``: a failed lifespan start-up is reported in one line."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from drum_bridge.middleware.startup_error import StartupErrorMiddleware

CAUSE = ValueError("model.pkl:\n   was pickled by\tanother scikit-learn")


async def _failing_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "lifespan.startup.failed", "message": "Traceback (most recent call last):\n ..."})


async def _run(show_stacktrace: bool, cause: BaseException | None) -> Message:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    app = StartupErrorMiddleware(_failing_lifespan, cause=lambda: cause, show_stacktrace=show_stacktrace)
    await app({"type": "lifespan"}, receive, send)
    (message,) = sent
    return message


@pytest.mark.anyio
async def test_the_traceback_becomes_one_line_naming_the_cause() -> None:
    message = await _run(show_stacktrace=False, cause=CAUSE)
    assert message["message"] == "ValueError: model.pkl: was pickled by another scikit-learn"


@pytest.mark.anyio
async def test_show_stacktrace_keeps_the_traceback() -> None:
    message = await _run(show_stacktrace=True, cause=CAUSE)
    assert message["message"].startswith("Traceback (most recent call last):")


@pytest.mark.anyio
async def test_a_failure_without_a_recorded_cause_is_left_as_it_is() -> None:
    message = await _run(show_stacktrace=False, cause=None)
    assert message["message"].startswith("Traceback")

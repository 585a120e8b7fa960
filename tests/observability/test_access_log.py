"""observability/access_log.py: the access lines of one event-loop turn go out in one write."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support.streams import CountingStream

from drum_bridge.observability.access_log import TurnBufferedStreamHandler


def _logger(stream: CountingStream) -> tuple[logging.Logger, TurnBufferedStreamHandler]:
    handler = TurnBufferedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.Logger("access-test", logging.INFO)
    logger.addHandler(handler)
    return logger, handler


def test_the_lines_of_one_loop_turn_are_written_together_in_order() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)

    async def serve() -> tuple[str, str]:
        for n in range(3):
            logger.info("GET /ping/ %d", n)
        before = stream.getvalue()  # nothing yet: the turn is not over
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return before, stream.getvalue()

    before, after = asyncio.run(serve())
    assert before == ""
    assert after == "GET /ping/ 0\nGET /ping/ 1\nGET /ping/ 2\n"
    assert stream.writes == 1


def test_each_turn_writes_its_own_lines() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)

    async def serve() -> None:
        for n in range(3):
            logger.info("line %d", n)
            await asyncio.sleep(0.01)

    asyncio.run(serve())
    assert stream.getvalue() == "line 0\nline 1\nline 2\n"
    assert stream.writes == 3


def test_outside_an_event_loop_a_line_is_written_at_once() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)
    logger.info("no loop")
    assert stream.getvalue() == "no loop\n"


def test_flush_writes_what_is_kept() -> None:
    stream = CountingStream()
    logger, handler = _logger(stream)

    async def log_and_flush() -> str:
        logger.info("kept")
        handler.flush()  # as logging.shutdown() does at exit
        return stream.getvalue()

    assert asyncio.run(log_and_flush()) == "kept\n"
    assert stream.writes == 1


def test_a_line_kept_to_format_later_that_fails_is_reported_and_the_others_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = CountingStream()
    logger, handler = _logger(stream)

    def broken(entry: object) -> str:
        raise ValueError(f"cannot format {entry}")

    async def serve() -> None:
        logger.info("before")
        handler.keep(lambda entry: f"kept {entry}", 1)
        handler.keep(broken, 2)
        logger.info("after")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(serve())
    assert stream.getvalue() == "before\nkept 1\nafter\n"
    assert stream.writes == 1
    assert "ValueError: cannot format 2" in capsys.readouterr().err

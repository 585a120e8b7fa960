"""observability/access_lines.py: the server's access lines without a log record a request
are the very lines the logging path writes, in both formats, and it steps aside for any
other logging set-up."""

from __future__ import annotations

import asyncio
import io
import logging
import logging.config
import time
from typing import Any

import pytest
from support.streams import CountingStream
from uvicorn.logging import AccessFormatter

from drum_bridge.observability.access_lines import ACCESS_MESSAGE, AccessLines, access_lines_for
from drum_bridge.observability.access_log import TurnBufferedStreamHandler
from drum_bridge.observability.request_context import REQUEST_ID, RequestIdFilter
from drum_bridge.server.logging_config import logging_config

RESPONSES: list[tuple[Any, ...]] = [
    ("127.0.0.1:5000", "GET", "/ping/", "1.1", 200),
    ("127.0.0.1:5001", "POST", "/predict/?a=1&b=%20", "1.1", 422),
    ("10.0.0.7:80", "GET", "/café/ünï", "1.0", 404),
    ("", "OPTIONS", "*", "1.1", 599),  # no client; a code with no phrase
]



def _configured(log_format: str, stream: io.StringIO) -> logging.Logger:
    """A ``uvicorn.access`` logger as drum-bridge's logging configuration sets it up."""
    config = logging_config("INFO", log_format, True)
    configurator = logging.config.DictConfigurator(config)
    handler = TurnBufferedStreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(dict(config["formatters"]["access"])))
    handler.addFilter(RequestIdFilter())
    logger = logging.Logger("uvicorn.access", logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    return logger


def _serve(log: Any, request_ids: list[str | None]) -> None:
    async def serve() -> None:
        for args, request_id in zip(RESPONSES, request_ids, strict=True):
            token = REQUEST_ID.set(request_id)
            try:
                log.info(ACCESS_MESSAGE, *args)
            finally:
                REQUEST_ID.reset(token)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(serve())


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("moment", [1_764_680_000.0, 1_764_680_000.999, 1_764_683_599.0405])
def test_lines_equal_the_logging_paths(
    monkeypatch: pytest.MonkeyPatch, log_format: str, moment: float
) -> None:
    monkeypatch.setattr(time, "time", lambda: moment)  # the quick path's clock
    made = logging.getLogRecordFactory()

    def at_moment(*args: Any, **kwargs: Any) -> logging.LogRecord:  # the logging path's
        record = made(*args, **kwargs)
        record.created, record.msecs = moment, int((moment - int(moment)) * 1000) + 0.0
        return record

    logging.setLogRecordFactory(at_moment)
    request_ids = ["req-1", None, "0f8e2a34-0a5c-4a49-9a0b-6bd4f3d1e6a1", "-"]
    through_logging, quick = io.StringIO(), io.StringIO()
    try:
        _serve(_configured(log_format, through_logging), request_ids)
    finally:
        logging.setLogRecordFactory(made)
    lines = access_lines_for(_configured(log_format, quick))
    assert isinstance(lines, AccessLines)
    _serve(lines, request_ids)

    assert quick.getvalue() == through_logging.getvalue()
    assert len(quick.getvalue().splitlines()) == len(RESPONSES)


def test_the_lines_of_a_turn_go_out_in_order_in_one_write_and_other_messages_take_the_logging_path() -> None:
    stream = CountingStream()
    lines = access_lines_for(_configured("text", stream))
    assert lines is not None

    async def serve() -> None:
        for args in RESPONSES:
            lines.info(ACCESS_MESSAGE, *args)
        lines.info('%s - "%s %s HTTP/%s" %s', "a", "GET", "/other-message", "1.1", 200)
        lines.info(ACCESS_MESSAGE, *RESPONSES[0])
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(serve())
    written = stream.getvalue().splitlines()
    assert len(written) == len(RESPONSES) + 2
    assert written[0].endswith('127.0.0.1:5000 - "GET /ping/ HTTP/1.1" 200 OK')
    # Another message goes through logging (a record), in its place among the lines.
    assert written[-2].endswith('INFO uvicorn.access [-]: a - "GET /other-message HTTP/1.1" 200 OK')
    assert written[-1].split(" ", 2)[2] == written[0].split(" ", 2)[2]  # all but the time
    assert stream.writes == 1


def test_the_level_is_asked_at_each_line() -> None:
    stream = io.StringIO()
    logger = _configured("json", stream)
    lines = access_lines_for(logger)
    assert lines is not None
    logger.setLevel(logging.WARNING)
    _serve(lines, [None] * len(RESPONSES))
    assert stream.getvalue() == ""


def _coloured(logger: logging.Logger) -> None:
    logger.handlers[0].setFormatter(AccessFormatter(logger.handlers[0].formatter._fmt, use_colors=True))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_coloured, id="colours"),
        pytest.param(lambda logger: logger.handlers[0].setFormatter(logging.Formatter("%(message)s")), id="format"),
        pytest.param(lambda logger: logger.addHandler(logging.NullHandler()), id="second-handler"),
        pytest.param(lambda logger: logger.addFilter(logging.Filter("x")), id="logger-filter"),
        pytest.param(lambda logger: setattr(logger, "propagate", True), id="propagates"),
        pytest.param(lambda logger: logger.handlers[0].addFilter(logging.Filter("x")), id="handler-filter"),
        pytest.param(lambda logger: setattr(logger, "name", "another.logger"), id="another-logger"),
    ],
)
def test_any_other_set_up_keeps_the_logging_path(change: Any) -> None:
    logger = _configured("text", io.StringIO())
    change(logger)
    assert access_lines_for(logger) is None

"""The access log of drum-bridge's own server, without a log record a request.

uvicorn logs each response through ``logging``: a ``LogRecord`` (caller lookup,
thread and process names), filters, a lock, and uvicorn's formatter copies the
record again.  On a busy server that is ~70 us of the event loop a request,
measured, most of it cache misses after the model ran.  ``AccessLines`` stands in
for the ``uvicorn.access`` logger in the server's protocol: its ``info()`` keeps
uvicorn's arguments, the time and the request id in the handler
(``TurnBufferedStreamHandler``), in their place among the turn's lines; they are
formatted as the configured formatter would format them when the handler writes
the turn's lines, in its one write.

It is used only where it writes the very lines logging would: ``access_lines_for``
returns None (and uvicorn's logger stays) unless the ``uvicorn.access`` logger
has exactly the handler and formatter drum-bridge's logging configuration gives
it, with colours off.  The level is asked at each line, so a level changed
later still holds.  Tests compare its lines with the logging path's.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from .access_log import TurnBufferedStreamHandler
from .json_logs import JsonFormatter, log_entry
from .request_context import REQUEST_ID, RequestIdFilter

__all__ = ["ACCESS_MESSAGE", "AccessLines", "access_lines_for", "shared_access_lines"]

#: The message uvicorn logs a response with; any other is passed to the logger as it is.
ACCESS_MESSAGE = '%s - "%s %s HTTP/%s" %d'

#: The text format of access lines (``server.logging_config`` configures uvicorn's with it).
TEXT_ACCESS_FORMAT = (
    '%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(client_addr)s - "%(request_line)s"'
    " %(status_code)s"
)

_Kept = tuple[float, tuple[Any, ...], str]


class AccessLines:
    """``info(ACCESS_MESSAGE, client, method, path, http_version, status)``, as uvicorn calls it."""

    def __init__(
        self, logger: logging.Logger, handler: TurnBufferedStreamHandler, line: Callable[[_Kept], str]
    ) -> None:
        self.logger = logger
        self._handler = handler
        self._line = line

    def info(self, msg: str, *args: Any) -> None:
        if msg != ACCESS_MESSAGE or len(args) != 5:
            self.logger.info(msg, *args)
            return
        if not self.logger.isEnabledFor(logging.INFO):
            return
        self._handler.keep(self._line, (time.time(), args, REQUEST_ID.get() or "-"))


_shared: list[Any] = [None, None]


def shared_access_lines(logger: logging.Logger) -> AccessLines | None:
    """``access_lines_for(logger)``, one for the process while the logger's set-up stays."""
    key = (tuple(logger.handlers), tuple(h.formatter for h in logger.handlers), tuple(logger.filters),
           logger.propagate)
    if _shared[0] != key:
        _shared[:] = [key, access_lines_for(logger)]
    lines: AccessLines | None = _shared[1]
    return lines


def access_lines_for(logger: logging.Logger) -> AccessLines | None:
    """``AccessLines`` for ``logger`` when it is configured as drum-bridge configures it."""
    if logger.name != "uvicorn.access" or logger.filters or len(logger.handlers) != 1 or logger.propagate:
        return None
    (handler,) = logger.handlers
    if type(handler) is not TurnBufferedStreamHandler or [type(f) for f in handler.filters] != [RequestIdFilter]:
        return None
    formatter = handler.formatter
    if type(formatter) is JsonFormatter:
        return AccessLines(logger, handler, json_line)
    from uvicorn.logging import AccessFormatter

    if (
        type(formatter) is AccessFormatter
        and not formatter.use_colors
        and formatter._fmt == TEXT_ACCESS_FORMAT
        and formatter.datefmt is None
    ):
        return AccessLines(logger, handler, functools.partial(text_line, formatter.get_status_code))
    return None


_second: list[Any] = [None, ""]


def _asctime(created: float) -> str:
    """``logging.Formatter.formatTime`` with its default format: local time, milliseconds."""
    second = int(created)
    if _second[0] != second:
        _second[:] = [second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))]
    return f"{_second[1]},{int((created - second) * 1000):03d}"


def text_line(status_code: Callable[[int], str], kept: _Kept) -> str:
    """``TEXT_ACCESS_FORMAT`` filled as uvicorn's ``AccessFormatter`` fills it; ``status_code``
    is that formatter's own ``get_status_code``."""
    created, (client, method, path, http_version, status), request_id = kept
    return TEXT_ACCESS_FORMAT % {
        "asctime": _asctime(created),
        "levelname": "INFO",
        "name": "uvicorn.access",
        "request_id": request_id,
        "client_addr": client,
        "request_line": f"{method} {path} HTTP/{http_version}",
        "status_code": status_code(int(status)),
    }


def json_line(kept: _Kept) -> str:
    created, args, request_id = kept
    entry = log_entry(created, "INFO", "uvicorn.access", ACCESS_MESSAGE % args, request_id, args)
    return orjson.dumps(entry, default=str).decode()

"""``JsonFormatter``: one JSON object a line, for log shippers (``--log-format json``)."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import orjson

__all__ = ["ACCESS_FIELDS", "JsonFormatter", "log_entry"]

#: uvicorn's access records carry these as ``args``, in this order.
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


def log_entry(
    created: float, level: str, logger: str, message: str, request_id: str | None, args: Any
) -> dict[str, Any]:
    """A line's object: the time (UTC, ISO 8601, milliseconds), level, logger, message and
    request id, and an access line's fields apart (``args`` of a ``uvicorn.access`` line)."""
    entry: dict[str, Any] = {
        "time": datetime.datetime.fromtimestamp(created, datetime.timezone.utc).isoformat(
            timespec="milliseconds"
        ),
        "level": level,
        "logger": logger,
        "message": message,
        "request_id": request_id,
    }
    if logger == "uvicorn.access" and isinstance(args, tuple):
        entry.update(zip(ACCESS_FIELDS, args, strict=False))
    return entry


class JsonFormatter(logging.Formatter):
    """``time``, ``level``, ``logger``, ``message``, ``request_id``; ``exception`` when
    there is one; the fields of an access line (client, method, path, status) apart."""

    def format(self, record: logging.LogRecord) -> str:
        entry = log_entry(record.created, record.levelname, record.name, record.getMessage(),
                          getattr(record, "request_id", None), record.args)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()

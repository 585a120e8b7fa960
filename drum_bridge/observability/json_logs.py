"""``JsonFormatter``: one JSON object a line, for log shippers (``--log-format json``)."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import orjson

__all__ = ["ACCESS_FIELDS", "JsonFormatter", "iso_time"]

#: uvicorn's access records carry these as ``args``, in this order.
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


def iso_time(created: float) -> str:
    """A record's time, UTC, ISO 8601 with milliseconds."""
    return datetime.datetime.fromtimestamp(created, datetime.timezone.utc).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """``time``, ``level``, ``logger``, ``message``, ``request_id``; ``exception`` when
    there is one; the fields of an access line (client, method, path, status) apart."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            entry.update(zip(ACCESS_FIELDS, record.args, strict=False))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()

"""The id of the request being served, for every log line written while serving it.

``DrumHeadersMiddleware`` sets it (the client's ``X-Request-ID`` or a new
uuid, the value DRUM's ``X_Request_ID`` response header carries); model code
runs in threads that inherit the request's context, so its log lines carry
the id too.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

__all__ = ["REQUEST_ID", "RequestIdFilter"]

#: The current request's id, or None outside a request.
REQUEST_ID: ContextVar[str | None] = ContextVar("drum_bridge_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record ("-" outside a request) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True

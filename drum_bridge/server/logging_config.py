"""One logging configuration for uvicorn's, drum-bridge's and the legacy Flask app's loggers.

Every line written while a request is served carries its request id (the
``X_Request_ID`` response header); ``--log-format json`` writes one JSON object
a line; ``--access-log off`` drops uvicorn's line per request.  The access
lines of one event-loop turn are written together (``observability.access_log``).
"""

from __future__ import annotations

from typing import Any

from ..observability.access_lines import TEXT_ACCESS_FORMAT

__all__ = ["LOG_LEVELS", "logging_config"]

#: ``--logging-level`` values (DRUM's) and the level each one stands for.
LOG_LEVELS = {
    "all": "NOTSET", "debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING",
    "error": "ERROR", "critical": "CRITICAL", "fatal": "CRITICAL",
}
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_JSON = {"()": "drum_bridge.observability.json_logs.JsonFormatter"}


def logging_config(level: str, log_format: str = "text", access_log: bool = True) -> dict[str, Any]:
    """A dictConfig: the legacy Flask app logs as ``drum_bridge.legacy_flask``, so it is covered."""
    json_lines = log_format == "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "drum_bridge.observability.request_context.RequestIdFilter"}},
        "formatters": {
            "default": _JSON if json_lines else {"format": _TEXT},
            "access": _JSON if json_lines else {"()": "uvicorn.logging.AccessFormatter", "fmt": TEXT_ACCESS_FORMAT},
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default",
                        "stream": "ext://sys.stderr", "filters": ["request_id"]},
            "access": {"class": "drum_bridge.observability.access_log.TurnBufferedStreamHandler",
                       "formatter": "access", "stream": "ext://sys.stdout", "filters": ["request_id"]},
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {
                "handlers": ["access"] if access_log else [],
                "level": level if access_log else "CRITICAL",
                "propagate": False,
            },
            "drum_bridge": {"level": level},
        },
    }

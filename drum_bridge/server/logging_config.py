"""One logging configuration for uvicorn's, drum-bridge's and the legacy Flask app's loggers."""

from __future__ import annotations

from typing import Any

__all__ = ["LOG_LEVELS", "logging_config"]

#: ``--logging-level`` values (DRUM's) and the level each one stands for.
LOG_LEVELS = {
    "all": "NOTSET", "debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING",
    "error": "ERROR", "critical": "CRITICAL", "fatal": "CRITICAL",
}


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig: the legacy Flask app logs as ``drum_bridge.legacy_flask``, so it is covered."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": fmt},
            "access": {"()": "uvicorn.logging.AccessFormatter",
                       "fmt": '%(asctime)s %(levelname)s %(name)s: %(client_addr)s - "%(request_line)s" %(status_code)s'},
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "drum_bridge": {"level": level},
        },
    }

"""``get_drum_logger``, which DataRobot's task templates use."""

from __future__ import annotations

import logging

__all__ = ["LOGGER_NAME_PREFIX", "get_drum_logger"]

LOGGER_NAME_PREFIX = "drum"


def get_drum_logger(logger_name: str) -> logging.Logger:
    """The logger ``drum.<logger_name>``."""
    return logging.getLogger(f"{LOGGER_NAME_PREFIX}.{logger_name}")

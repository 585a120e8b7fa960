"""DRUM's exceptions that model code raises or catches."""

from __future__ import annotations

from drum_bridge.errors import CustomHTTPError as _BridgeCustomHTTPError

__all__ = [
    "BaseCustomUserError",
    "CustomHTTPError",
    "DrumCommonException",
    "DrumException",
    "DrumSerializationError",
    "DrumTransformException",
]

HTTP_BAD_REQUEST = 400


class DrumException(Exception):
    """Base of DRUM's own errors."""


class DrumCommonException(DrumException):
    """A general DRUM error."""


class DrumTransformException(DrumException):
    """A problem particular to transform tasks."""


class DrumSerializationError(DrumException):
    """A custom task could not be saved or loaded."""


class BaseCustomUserError(Exception):
    """Errors model code raises on purpose; the server answers them as the code asks."""


class CustomHTTPError(BaseCustomUserError, _BridgeCustomHTTPError):
    """Raise from model code to answer with ``status_code`` and ``{"message": message}``.

    It is also a ``drum_bridge.CustomHTTPError``, and answered the same way.
    """

    def __init__(
        self,
        message: str = "User's HTTP error in custom model",
        status_code: int = HTTP_BAD_REQUEST,
    ) -> None:
        _BridgeCustomHTTPError.__init__(self, message, status_code)

"""The exceptions drum-bridge raises, in one small hierarchy.

``DrumBridgeError`` is the root.  Configuration problems are also ``ValueError``
so that callers validating input can catch them the usual way.  Errors that
become HTTP answers carry the status and the message DRUM would send.
"""

from __future__ import annotations

__all__ = [
    "DrumBridgeError",
    "ConfigError",
    "ModelLoadError",
    "ExtensionError",
    "DrumHTTPError",
    "UnprocessableEntityError",
    "PayloadTooLargeError",
    "ServiceUnavailableError",
    "GatewayTimeoutError",
    "PredictionError",
    "CustomHTTPError",
    "is_user_http_error",
]


class DrumBridgeError(Exception):
    """Base class of every error raised by drum-bridge."""


class ConfigError(DrumBridgeError, ValueError):
    """A setting is missing, malformed or contradicts another one."""


class ModelLoadError(DrumBridgeError):
    """The model in the code dir could not be loaded (custom.py or artifact)."""


class ExtensionError(DrumBridgeError):
    """custom_fastapi.py or custom_flask.py could not be found, imported or applied."""


class DrumHTTPError(DrumBridgeError):
    """An error answered as DRUM's JSON body ``{"message": "ERROR: ..."}``."""

    status_code = 500

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: Response headers to send with it (``Retry-After``).
        self.headers: dict[str, str] = {}
        if status_code is not None:
            self.status_code = status_code


class UnprocessableEntityError(DrumHTTPError):
    """The payload or the endpoint does not fit the model (DRUM answers 422)."""

    status_code = 422


class PayloadTooLargeError(DrumHTTPError):
    """The request body is larger than the body limit (``--max-body-size``): 413."""

    status_code = 413


class ServiceUnavailableError(DrumHTTPError):
    """Every model thread is busy and the queue is full, or the server drains: 503."""

    status_code = 503

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after_s)}


class GatewayTimeoutError(DrumHTTPError):
    """Model code ran past the request timeout: 504."""

    status_code = 504


class PredictionError(DrumHTTPError):
    """Model code failed, or its output broke DRUM's rules (DRUM answers 500)."""

    status_code = 500


class CustomHTTPError(DrumBridgeError):
    """Raise from model code to answer with your own status and message.

    Answered as DRUM answers its ``datarobot_drum.CustomHTTPError``: the
    status given, ``{"message": <message>}`` and ``X-Drum-User-Http-Error: true``.
    An exception of DRUM's own class (from an installed datarobot-drum) is
    answered the same way.
    """

    def __init__(self, message: str = "User's HTTP error in custom model", status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def is_user_http_error(exc: BaseException) -> bool:
    """Our CustomHTTPError, or DRUM's (any subclass of its ``BaseCustomUserError``)."""
    if isinstance(exc, CustomHTTPError):
        return True
    return any(cls.__name__ == "BaseCustomUserError" for cls in type(exc).__mro__)

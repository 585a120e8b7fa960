"""The errors ``RuntimeParameters`` raises, named as in DRUM."""

from __future__ import annotations

__all__ = [
    "RuntimeParameterException",
    "InvalidJsonException",
    "InvalidRuntimeParam",
    "InvalidInputFilePath",
    "InvalidEmptyYamlContent",
    "InvalidYamlContent",
    "ErrorLoadingRuntimeParameter",
]


class RuntimeParameterException(Exception):
    """Base of the runtime parameter errors."""


class InvalidJsonException(RuntimeParameterException):
    """The parameter's environment variable does not hold JSON."""


class InvalidRuntimeParam(RuntimeParameterException):
    """The parameter's JSON does not fit its declared type."""


class InvalidInputFilePath(RuntimeParameterException):
    pass


class InvalidEmptyYamlContent(RuntimeParameterException):
    pass


class InvalidYamlContent(RuntimeParameterException):
    pass


class ErrorLoadingRuntimeParameter(RuntimeParameterException):
    pass

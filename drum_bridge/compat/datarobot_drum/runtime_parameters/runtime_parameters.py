"""``RuntimeParameters``: the values DataRobot hands a model as ``MLOPS_RUNTIME_PARAM_<NAME>``.

Each holds JSON ``{"type": ..., "payload": ...}``, checked as DRUM 1.18.1 checks it:
exactly those two keys; ``string`` and ``deployment`` payloads are non-empty strings,
``boolean`` ones true or false, ``numeric`` ones anything ``float()`` reads (returned as
given), ``credential`` ones an object with a string ``credentialType``; any payload may be
null.  The errors are DRUM's: ``ValueError`` for a missing parameter,
``InvalidJsonException`` for a value that is not JSON (a plain value too, as in DRUM),
``InvalidRuntimeParam`` for one that does not fit.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .exceptions import InvalidJsonException, InvalidRuntimeParam

__all__ = ["RuntimeParameters"]


# The problems are worded as DRUM's validation words them (DataRobot's tests search for them).
def _is_text(payload: Any) -> str | None:
    if not isinstance(payload, str):
        return "payload: value is not a string"
    return "payload: blank value is not allowed" if payload == "" else None


def _is_boolean(payload: Any) -> str | None:
    return None if isinstance(payload, bool) else "payload: value should be True or False"


def _is_numeric(payload: Any) -> str | None:
    try:
        float(payload)
    except (TypeError, ValueError):
        return "payload: value can't be converted to float"
    return None


def _is_credential(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "payload: value is not a dict"
    if "credentialType" not in payload:
        return "payload: credentialType is required"
    if not isinstance(payload["credentialType"], str):
        return "payload: credentialType: value is not a string"
    return None


#: Each type, and what is wrong with a (non-null) payload for it, if anything.
_PAYLOAD_CHECKS = {
    "string": _is_text,
    "boolean": _is_boolean,
    "numeric": _is_numeric,
    "credential": _is_credential,
    "deployment": _is_text,
}


def _problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return 'value is not a dict (expected {"type": ..., "payload": ...})'
    keys = set(value)
    if keys != {"type", "payload"}:
        missing = sorted({"type", "payload"} - keys)
        extra = sorted(keys - {"type", "payload"})
        return f"{missing[0]} is required" if missing else f"{extra[0]} is not allowed key"
    check = _PAYLOAD_CHECKS.get(value["type"]) if isinstance(value["type"], str) else None
    if check is None:
        return f"type: value doesn't match any variant of {sorted(_PAYLOAD_CHECKS)}"
    return None if value["payload"] is None else check(value["payload"])


class RuntimeParameters:
    """Read the runtime parameters the platform (or ``--runtime-params-file``) set."""

    PARAM_PREFIX = "MLOPS_RUNTIME_PARAM"

    @classmethod
    def get(cls, key: str) -> Any:
        """The parameter's payload; see the module's docstring for the errors."""
        name = cls.namespaced_param_name(key)
        if name not in os.environ:
            raise ValueError(f"Runtime parameter '{key}' does not exist!")
        raw = os.environ[name]
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidJsonException(
                f"Invalid runtime parameter json payload. payload={raw}"
            ) from None
        problem = _problem(value)
        if problem is not None:
            raise InvalidRuntimeParam(
                f"Invalid runtime parameter! env_value={value}, exception: {problem}, "
            )
        return value["payload"]

    @classmethod
    def namespaced_param_name(cls, param_name: str) -> str:
        return f"{cls.PARAM_PREFIX}_{param_name}"

    @classmethod
    def has(cls, param_name: str) -> bool:
        return cls.namespaced_param_name(param_name) in os.environ

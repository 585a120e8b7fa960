"""``datarobot_drum.RuntimeParameters`` as drum-bridge provides it: every type DRUM
documents, and DRUM 1.18.1's answers for a missing or mistyped parameter (read from real
DRUM: the error classes, and the message texts up to DRUM's own validation report)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drum_bridge.compat.datarobot_drum import RuntimeParameters
from drum_bridge.compat.datarobot_drum.runtime_parameters.exceptions import (
    InvalidJsonException,
    InvalidRuntimeParam,
    RuntimeParameterException,
)


def _set(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(f"MLOPS_RUNTIME_PARAM_{name}", text)


@pytest.mark.parametrize(
    ("param_type", "payload"),
    [
        ("string", "hello"), ("string", " "), ("string", None),
        ("boolean", True), ("boolean", False), ("boolean", None),
        ("numeric", 3), ("numeric", 3.5), ("numeric", "3.5"), ("numeric", True), ("numeric", None),
        ("credential", {"credentialType": "s3", "awsAccessKeyId": "id"}), ("credential", None),
        ("deployment", "6543"),
    ],
)
def test_a_valid_parameter_answers_its_payload_as_given(
    monkeypatch: pytest.MonkeyPatch, param_type: str, payload: Any
) -> None:
    _set(monkeypatch, "P", {"type": param_type, "payload": payload})

    assert RuntimeParameters.has("P")
    value = RuntimeParameters.get("P")
    assert (value, type(value)) == (payload, type(payload))


def test_a_missing_parameter_is_drum_s_value_error() -> None:
    assert not RuntimeParameters.has("NOT_SET_ANYWHERE")
    with pytest.raises(ValueError) as raised:
        RuntimeParameters.get("NOT_SET_ANYWHERE")
    assert str(raised.value) == "Runtime parameter 'NOT_SET_ANYWHERE' does not exist!"


@pytest.mark.parametrize("raw", ["fastapi", "", "{oops"])
def test_a_value_that_is_not_json_is_drum_s_invalid_json(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    _set(monkeypatch, "P", raw)
    with pytest.raises(InvalidJsonException) as raised:
        RuntimeParameters.get("P")
    assert str(raised.value) == f"Invalid runtime parameter json payload. payload={raw}"
    assert isinstance(raised.value, RuntimeParameterException)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"type": "boolean", "payload": "true"}, "value should be True or False"),
        ({"type": "boolean", "payload": 1}, "value should be True or False"),
        ({"type": "numeric", "payload": "abc"}, "value can't be converted to float"),
        ({"type": "numeric", "payload": [1]}, "value can't be converted to float"),
        ({"type": "string", "payload": 5}, "value is not a string"),
        ({"type": "string", "payload": ""}, "blank value is not allowed"),
        ({"type": "credential", "payload": {"a": 1}}, "credentialType is required"),
        ({"type": "credential", "payload": {"credentialType": 5}}, "value is not a string"),
        ({"type": "weird", "payload": "x"}, "doesn't match any variant"),
        ({"type": "string"}, "payload is required"),
        ({"payload": "x"}, "type is required"),
        ({"type": "string", "payload": "x", "extra": 1}, "extra is not allowed key"),
        ([1, 2], "value is not a dict"),
        (5, "value is not a dict"),
    ],
)
def test_a_mistyped_parameter_is_drum_s_invalid_runtime_param(
    monkeypatch: pytest.MonkeyPatch, value: Any, problem: str
) -> None:
    _set(monkeypatch, "P", value)
    with pytest.raises(InvalidRuntimeParam) as raised:
        RuntimeParameters.get("P")
    message = str(raised.value)
    # DRUM's frame, and the words of DRUM's validation that DataRobot's own tests look for.
    assert message.startswith(f"Invalid runtime parameter! env_value={value}, exception: ")
    assert message.endswith(", ")
    assert problem in message


def test_names_are_namespaced_as_drum_s() -> None:
    assert RuntimeParameters.PARAM_PREFIX == "MLOPS_RUNTIME_PARAM"
    assert RuntimeParameters.namespaced_param_name("X") == "MLOPS_RUNTIME_PARAM_X"

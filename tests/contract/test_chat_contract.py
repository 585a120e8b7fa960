"""Replay of DRUM 1.18.1's recorded chat cases against drum-bridge.

Every recorded request to a chat route (``support.contract.is_chat_case``: chat
completions, ``/models``, ``/directAccess/``, ``/nim/``), whatever its scenario, is one test
here; ``test_contract.py`` replays the others.  Compared: status, media type and charset,
which of DRUM's version and request-id headers are present, ``allow``, and the body —
JSON as a chat answer (``created`` any whole number, ``datarobot_association_id`` any
UUID), Server-Sent Events event by event with the chunks compared the same way (one
association id per stream), Flask's own HTML pages by status only.

``BETTER_ANSWERS`` lists where drum-bridge answers better than DRUM on purpose (README,
"Differences from DRUM"), each asserted as drum-bridge answers it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.app import ClientResponse
from support.contract import (
    DATA_DIR,
    Case,
    chat_expected_json,
    is_chat_case,
    is_werkzeug_page,
    load_scenario,
    media_type,
    request_kwargs,
    sse_events,
    sse_matches,
)

pytest.importorskip("openai")

PRESENCE_HEADERS = ("x-drum-version", "x_request_id", "x-request-id")
SCENARIOS = sorted(path.stem for path in DATA_DIR.glob("*.json"))
CASES = [case for name in SCENARIOS for case in load_scenario(name).cases if is_chat_case(case)]


def _stream_failed_midway(response: ClientResponse) -> None:
    """DRUM cut the connection after the first chunk; drum-bridge sends it, then an error
    event (the ``openai`` client raises ``APIError``), and no ``[DONE]``."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    first, error = sse_events(response.text)
    assert json.loads(first["data"])["choices"][0]["delta"]["content"] == "first"
    assert error == {
        "event": "error",
        "data": '{"error":{"message":"stream broke after one chunk","type":"server_error","code":500}}',
    }


def _messages_not_a_list(response: ClientResponse) -> None:
    """DRUM passed the string on and answered the hook's TypeError with a 500."""
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "message": "ERROR: 'messages' must be a list of message objects, got a string"
    }


#: (scenario, case index) -> the check of drum-bridge's answer, where it differs on purpose.
BETTER_ANSWERS: dict[tuple[str, int], Callable[[ClientResponse], None]] = {
    ("chat_more", 6): _stream_failed_midway,
    ("chat_more", 7): _messages_not_a_list,
}


def test_the_chat_cases_are_recorded() -> None:
    # Guard against a selection that silently finds nothing to replay.
    assert {case.scenario for case in CASES} >= {"textgen_chat", "chat_more", "agenticworkflow"}
    assert sum(case.request["path"].endswith("completions") for case in CASES) >= 10


@pytest.mark.parametrize(
    ("scenario_client", "case"),
    [pytest.param(case.scenario, case, id=case.id) for case in CASES],
    indirect=["scenario_client"],
)
def test_recorded_chat_case(scenario_client: TestClient, case: Case) -> None:
    response = scenario_client.request(**request_kwargs(case.request))

    sent = {name for name in PRESENCE_HEADERS if name in response.headers}
    assert sent == set(case.response["headers_present"])
    better = BETTER_ANSWERS.get((case.scenario, case.index))
    if better is not None:
        better(response)
        return
    assert response.status_code == case.response["status"]
    recorded_type = case.recorded_headers["content-type"]
    assert media_type(response.headers.get("content-type", "")) == media_type(recorded_type)
    if "allow" in case.recorded_headers:
        assert _methods(response.headers["allow"]) == _methods(case.recorded_headers["allow"])
    _check_body(response, case)


def _methods(allow: str) -> set[str]:
    return {method.strip() for method in allow.split(",") if method.strip()}


def _check_body(response: ClientResponse, case: Case) -> None:
    recorded: dict[str, Any] = case.response["body"]
    if "json" in recorded:
        actual = response.json()
        assert actual == chat_expected_json(recorded["json"], actual)
    elif media_type(case.recorded_headers["content-type"])[0] == "text/event-stream":
        sse_matches(response.text, recorded["text"])
    elif not is_werkzeug_page(case):
        assert response.text == recorded["text"]


@pytest.mark.parametrize(("scenario", "index"), list(BETTER_ANSWERS))
def test_better_answers_name_a_recorded_difference(scenario: str, index: int) -> None:
    recorded = load_scenario(scenario).cases[index].response
    assert recorded["status"] == 500 or recorded.get("truncated") is True

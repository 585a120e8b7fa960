"""Replay of DRUM 1.18.1's recorded HTTP contract against drum-bridge.

Every case of ``data/<scenario>.json`` is one test, e.g. ``regression_pkl[03-GET /health/]``.
The app is built the way ``drum server`` builds it from the scenario's code dir, target
type, flags and environment, and the recorded answer must match what the contract lists:
status, media type and charset, JSON bodies (floats to 1e-9 relative), text bodies
(except Flask's own HTML 404/405/308 pages), multipart bodies part by part, the headers
named in ``COMPARED_HEADERS``, ``allow`` (as a set of methods) and ``location`` (by path),
which of DRUM's version and request-id headers are present, and an echoed request id.

Requests to the chat routes (chat completions, ``/models``, ``/directAccess/``, ``/nim/``:
``support.contract.is_chat_case``) are replayed by ``test_chat_contract.py``, which compares
streamed bodies event by event.  The ``flask_*`` scenarios exercise the Flask bridge in ``drum_bridge/extensions``.

Deliberate differences from DRUM are listed in ``STATUS_OVERRIDES`` (the status differs)
and ``BETTER_ANSWERS`` (DRUM answers 500 to a client's mistake; drum-bridge answers a 4xx
that names it, asserted by ``test_better_answer_than_drum``), each with its reason.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from support.app import ClientResponse
from support.contract import (
    DATA_DIR,
    MODELS_DIR,
    Case,
    approx_json,
    is_chat_case,
    is_werkzeug_page,
    load_scenario,
    media_type,
    multipart_parts,
    request_kwargs,
)

import drum_bridge
from drum_bridge.version import DRUM_VERSION

SCENARIOS = (
    "regression_pkl",
    "binary_pkl",
    "multiclass_pkl",
    "multiclass_label_mismatch",
    "regression_custom_extra_output",
    "transform_pkl",
    "url_prefix",
    "error_server",
    "flask_auth_hook",
    "flask_hook_semantics",
    "unstructured",
    "unstructured_more",
    "multilabel",
    "geopoint",
    "vectordatabase",
    "anomaly_custom",
    "agenticworkflow",
    "textgen_chat",
    "chat_more",
)
NOT_YET_REPLAYED: dict[str, str] = {}
#: (scenario, case index) -> the status drum-bridge answers instead of the recorded one.
STATUS_OVERRIDES = {
    # abort(403) in a before_request hook: DRUM's blueprint error handler turns Flask's
    # Forbidden into a 500; drum-bridge keeps Flask's semantics and answers 403, with the
    # same {"message": "ERROR: 403 Forbidden: ..."} body.
    ("flask_hook_semantics", 3): 403,
}


class BetterAnswer(NamedTuple):
    status: int
    message: str
    why: str


#: (scenario, case index) -> drum-bridge's answer where DRUM's own code crashes on a
#: client's mistake (README, "Differences from DRUM"); not replayed as recorded.
BETTER_ANSWERS = {
    ("unstructured_more", 5): BetterAnswer(
        422,
        "ERROR: The request body cannot be decoded as utf-16 (the charset of its Content-Type,"
        " UTF-8 if it names none): 'utf-16-le' codec can't decode byte 0x78 in position 0:"
        " truncated data",
        "DRUM answers 500 for a body its declared charset cannot decode",
    ),
    ("chat_more", 12): BetterAnswer(
        422,
        "ERROR: This model has target type TargetType.TEXT_GENERATION and its custom.py"
        " defines no score_unstructured hook; use either /predict/ or /predictions/ endpoint.",
        "DRUM calls the missing hook: 500 \"'NoneType' object is not callable\"",
    ),
}
#: Compared by value when recorded (``location`` is compared by path: the host differs).
COMPARED_HEADERS = ("x-custom-after", "x-drum-user-http-error", "www-authenticate")
#: The recording says which of these DRUM sent.
PRESENCE_HEADERS = ("x-drum-version", "x_request_id", "x-request-id")
#: /info/ fields that name the server rather than the model.
SERVER_FIELDS = {"drumServer": "fastapi", "drumVersion": DRUM_VERSION}
#: /info/ fields drum-bridge adds to DRUM's answer.
ADDED_INFO_FIELDS = {"drumBridgeVersion": drum_bridge.__version__}

CASES = [
    case for name in SCENARIOS for case in load_scenario(name).cases if not is_chat_case(case)
]


def _replayed(case: Case) -> Any:
    return pytest.param(case.scenario, case, id=case.id)

# A sparse upload without X.colnames has no column names, so scikit-learn warns that the
# model was fitted with names; DRUM lets that warning pass, and so must the replay.
pytestmark = pytest.mark.filterwarnings(
    "ignore:X does not have valid feature names:UserWarning:sklearn"
)


@pytest.mark.parametrize(
    ("scenario_client", "case"),
    [_replayed(case) for case in CASES if (case.scenario, case.index) not in BETTER_ANSWERS],
    indirect=["scenario_client"],
)
def test_recorded_case(scenario_client: TestClient, case: Case) -> None:
    response = scenario_client.request(**request_kwargs(case.request))

    expected_status = STATUS_OVERRIDES.get((case.scenario, case.index), case.response["status"])
    assert response.status_code == expected_status
    recorded_type = case.recorded_headers["content-type"]
    assert media_type(response.headers.get("content-type", "")) == media_type(recorded_type)
    _check_headers(response, case)
    _check_body(response, case)


def _check_headers(response: ClientResponse, case: Case) -> None:
    recorded = case.recorded_headers
    for name in COMPARED_HEADERS:
        if name in recorded:
            assert response.headers.get(name) == recorded[name], name
    if "allow" in recorded:
        assert _methods(response.headers.get("allow", "")) == _methods(recorded["allow"])
    if "location" in recorded:
        location = response.headers.get("location", "")
        assert urlsplit(location).path == urlsplit(recorded["location"]).path
    sent = {name for name in PRESENCE_HEADERS if name in response.headers}
    assert sent == set(case.response["headers_present"])
    if case.response.get("request_id_echoed"):
        assert response.headers["x_request_id"] == case.request["headers"]["X-Request-ID"]


def _methods(allow: str) -> set[str]:
    return {method.strip() for method in allow.split(",") if method.strip()}


def _check_body(response: ClientResponse, case: Case) -> None:
    recorded = case.response.get("body")
    if recorded is None:  # HEAD: nothing recorded
        return
    if "json" in recorded:
        actual = response.json()
        assert actual == _expected_json(recorded["json"], actual)
    elif "base64" in recorded:
        assert response.content == base64.b64decode(recorded["base64"])
    elif media_type(case.recorded_headers["content-type"])[0].startswith("multipart/"):
        actual_parts = multipart_parts(response.content, response.headers["content-type"])
        recorded_parts = multipart_parts(
            recorded["text"].encode(), case.recorded_headers["content-type"]
        )
        assert actual_parts == recorded_parts
    elif not is_werkzeug_page(case):
        assert response.text == recorded["text"]


def _expected_json(recorded: Any, actual: Any) -> Any:
    expected = approx_json(recorded)
    if not isinstance(expected, dict):
        return expected
    for name, value in SERVER_FIELDS.items():
        if name in expected:
            expected[name] = value
    if "drumServer" in expected:
        expected.update(ADDED_INFO_FIELDS)
    if "codeDir" in expected:
        expected["codeDir"] = recorded["codeDir"].replace("{models}", str(MODELS_DIR))
    if "created" in expected:  # a chat completion's timestamp: any whole number
        assert isinstance(actual.get("created"), int)
        expected["created"] = actual["created"]
    return expected


def test_every_recording_is_replayed_or_listed_as_later() -> None:
    recorded = {path.stem for path in DATA_DIR.glob("*.json")}
    assert recorded == set(SCENARIOS) | set(NOT_YET_REPLAYED)


@pytest.mark.parametrize(("scenario", "index"), list(STATUS_OVERRIDES))
def test_status_overrides_name_a_recorded_difference(scenario: str, index: int) -> None:
    recorded = load_scenario(scenario).cases[index].response["status"]
    assert recorded != STATUS_OVERRIDES[scenario, index]


@pytest.mark.parametrize(
    ("scenario_client", "case"),
    [
        pytest.param(scenario, load_scenario(scenario).cases[index], id=f"{scenario}-{index}")
        for scenario, index in BETTER_ANSWERS
    ],
    indirect=["scenario_client"],
)
def test_better_answer_than_drum(scenario_client: TestClient, case: Case) -> None:
    """DRUM's 500 for the client's mistake was recorded; drum-bridge names the mistake."""
    better = BETTER_ANSWERS[case.scenario, case.index]
    assert case.response["status"] == 500, better.why

    response = scenario_client.request(**request_kwargs(case.request))

    assert (response.status_code, response.json()) == (better.status, {"message": better.message})
    assert response.headers["content-type"] == "application/json"
    _check_headers(response, case)

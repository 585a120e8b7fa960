"""The recorded DRUM contract (``tests/contract/data``): loading it and comparing to it.

Each ``<scenario>.json`` was recorded from real DRUM 1.18.1; its README lives in the
team's shared folder.  This module turns a recorded request into keyword arguments
for an httpx-style client, and gives the comparisons the contract asks for: media
type + charset, JSON with a float tolerance, multipart bodies part by part.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = [
    "DATA_DIR",
    "MODELS_DIR",
    "Case",
    "Part",
    "Scenario",
    "CHAT_PATHS",
    "approx_json",
    "chat_expected_json",
    "is_chat_case",
    "is_werkzeug_page",
    "load_scenario",
    "media_type",
    "multipart_parts",
    "request_kwargs",
    "sse_events",
    "sse_matches",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "contract" / "data"
MODELS_DIR = DATA_DIR / "models"
#: Flask's (werkzeug's) own HTML pages: routing answers whose markup need not match.
WERKZEUG_PAGE_STATUSES = frozenset({308, 404, 405})
FLOAT_RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Case:
    scenario: str
    index: int
    request: dict[str, Any]
    response: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.scenario}[{self.index:02d}-{self.request['method']} {self.request['path']}]"

    @property
    def recorded_headers(self) -> dict[str, str]:
        headers: dict[str, str] = self.response.get("headers", {})
        return headers


@dataclass(frozen=True)
class Scenario:
    name: str
    code_dir: Path
    target_type: str
    args: list[str]
    env: dict[str, str]
    cases: list[Case]


def load_scenario(name: str) -> Scenario:
    raw = json.loads((DATA_DIR / f"{name}.json").read_text())
    return Scenario(
        name=raw["scenario"],
        code_dir=MODELS_DIR / raw["code_dir"],
        target_type=raw["target_type"],
        args=raw["args"],
        env=raw["env"],
        cases=[
            Case(raw["scenario"], index, case["request"], case["response"])
            for index, case in enumerate(raw["cases"])
        ],
    )


def request_kwargs(request: dict[str, Any]) -> dict[str, Any]:
    """``client.request(**kwargs)`` arguments sending the recorded request."""
    kwargs: dict[str, Any] = {
        "method": request["method"],
        "url": request["path"],
        "headers": request.get("headers", {}),
    }
    if "files" in request:
        kwargs["files"] = {
            field: (name, (MODELS_DIR / name).read_bytes())
            for field, name in request["files"].items()
        }
    elif "body_file" in request:
        kwargs["content"] = (MODELS_DIR / request["body_file"]).read_bytes()
    elif "body" in request:
        kwargs["content"] = request["body"].encode()
    elif "body_base64" in request:
        kwargs["content"] = base64.b64decode(request["body_base64"])
    elif "json" in request:
        kwargs["json"] = request["json"]
    return kwargs


def _content_type(value: str) -> Message:
    message = Message()
    message["content-type"] = value
    return message


def media_type(content_type: str) -> tuple[str, str | None]:
    """``(media type, charset)``, both lower-case: what the contract compares."""
    message = _content_type(content_type)
    return message.get_content_type(), message.get_content_charset()


def approx_json(expected: Any) -> Any:
    """``expected`` with every float wrapped in ``pytest.approx`` (relative 1e-9)."""
    if isinstance(expected, float):
        return pytest.approx(expected, rel=FLOAT_RELATIVE_TOLERANCE)
    if isinstance(expected, dict):
        return {key: approx_json(value) for key, value in expected.items()}
    if isinstance(expected, list):
        return [approx_json(value) for value in expected]
    return expected


def is_werkzeug_page(case: Case) -> bool:
    """Flask's own HTML error/redirect page, recorded as text."""
    return (
        case.response["status"] in WERKZEUG_PAGE_STATUSES
        and media_type(case.recorded_headers["content-type"])[0] == "text/html"
        and case.response["body"]["text"].startswith("<!doctype html>")
    )


@dataclass(frozen=True)
class Part:
    """One part of a multipart body, as a form field or file."""

    name: str | None
    filename: str | None
    content_type: str | None
    content: bytes


def _part(chunk: bytes) -> Part:
    head, _, content = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n").partition(b"\r\n\r\n")
    headers = Message()
    for line in head.decode().split("\r\n"):
        header, _, value = line.partition(":")
        headers[header] = value.strip()
    name = headers.get_param("name", header="content-disposition")
    return Part(
        name=name if isinstance(name, str) else None,
        filename=headers.get_filename(),
        content_type=headers.get("content-type"),
        content=content,
    )


def multipart_parts(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart body with the boundary its Content-Type names."""
    boundary = _content_type(content_type).get_param("boundary")
    assert isinstance(boundary, str), f"no boundary in {content_type!r}"
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    assert chunks[-1].strip() == b"--", f"multipart body does not end with {delimiter!r}--"
    return [_part(chunk) for chunk in chunks[1:-1]]


#: The OpenAI-compatible routes (chat completions, models) and the forwarding ones.
CHAT_PATHS = ("/chat/completions", "/v1/chat/completions", "/models", "/v1/models")
CHAT_PATH_PREFIXES = ("/directAccess/", "/nim/")
#: Fields of a chat answer that differ between any two runs: compared by kind, not value.
ASSOCIATION_ID = "datarobot_association_id"


def is_chat_case(case: Case) -> bool:
    """A request to a chat route (replayed by ``tests/contract/test_chat_contract.py``)."""
    path = urlsplit(case.request["path"]).path
    return path in CHAT_PATHS or path.startswith(CHAT_PATH_PREFIXES)


def chat_expected_json(recorded: Any, actual: Any, association_id: str | None = None) -> Any:
    """``recorded`` as a chat answer is compared: ``created`` any whole number and
    ``datarobot_association_id`` any UUID (or ``association_id`` when given)."""
    expected = approx_json(recorded)
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        return expected
    if "created" in expected:
        assert isinstance(actual.get("created"), int)
        expected["created"] = actual["created"]
    if ASSOCIATION_ID in expected:
        value = actual.get(ASSOCIATION_ID)
        assert isinstance(value, str)
        if association_id is None:
            uuid.UUID(value)
        else:
            assert value == association_id
        expected[ASSOCIATION_ID] = value
    return expected


def sse_events(text: str) -> list[dict[str, str]]:
    """The events of a Server-Sent Events body: ``{"data": ...}`` plus ``"event"`` if named.

    Each event must end with a blank line (a body cut short fails here).
    """
    assert text == "" or text.endswith("\n\n"), f"the stream does not end an event: {text[-80:]!r}"
    events = []
    for block in text.split("\n\n")[:-1]:
        event: dict[str, str] = {}
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            event[field] = f"{event[field]}\n{value}" if field in event else value
        events.append(event)
    return events


def sse_matches(actual_text: str, recorded_text: str) -> None:
    """Assert a chat stream as recorded: the same events, chunks compared as chat answers
    (``created`` any whole number; one UUID association id for the whole stream)."""
    actual, recorded = sse_events(actual_text), sse_events(recorded_text)
    assert [set(event) for event in actual] == [set(event) for event in recorded]
    association_ids = set()
    for got, wanted in zip(actual, recorded, strict=True):
        assert got.get("event") == wanted.get("event")
        if wanted["data"] == "[DONE]":
            assert got["data"] == "[DONE]"
            continue
        chunk = json.loads(got["data"])
        assert chunk == chat_expected_json(json.loads(wanted["data"]), chunk)
        association_ids.add(chunk.get(ASSOCIATION_ID))
    assert len(association_ids) <= 1, association_ids

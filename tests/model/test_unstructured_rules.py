"""DRUM's rules for unstructured models, without HTTP: what score_unstructured gets
(``hook_arguments``) and what its return becomes (``answer``)."""

from __future__ import annotations

from typing import Any

import pytest

from drum_bridge.errors import PredictionError, UnprocessableEntityError
from drum_bridge.model.unstructured import (
    FLASK_DEFAULT_CONTENT_TYPE,
    UnstructuredAnswer,
    UnstructuredRequest,
    answer,
    hook_arguments,
)

QUERY = {"a": "1"}
HEADERS = {"X-Foo": "bar"}


def request(data: bytes, mimetype: str = "", charset: str | None = None) -> UnstructuredRequest:
    return UnstructuredRequest(
        data=data, mimetype=mimetype, charset=charset, query=QUERY, headers=HEADERS
    )


@pytest.mark.parametrize(
    ("mimetype", "charset", "data", "expected_data", "expected_kwargs"),
    [
        pytest.param("", None, b"hi", "hi", {"mimetype": "text/plain", "charset": "utf-8"},
                     id="no-content-type-is-utf8-text"),
        pytest.param("text/csv", None, b"a,b", "a,b", {"mimetype": "text/csv", "charset": "utf-8"},
                     id="text-defaults-to-utf8"),
        pytest.param("application/json", "latin-1", b"\"h\xe9\"", "\"h\u00e9\"",
                     {"mimetype": "application/json", "charset": "latin-1"},
                     id="json-in-its-charset"),
        pytest.param("image/png", None, b"\x89PNG", b"\x89PNG", {"mimetype": "image/png"},
                     id="binary-without-charset"),
        pytest.param("application/octet-stream", "utf-8", b"\xff", b"\xff",
                     {"mimetype": "application/octet-stream", "charset": "utf-8"},
                     id="binary-keeps-a-named-charset"),
        pytest.param("text/plain", None, b"", "", {"mimetype": "text/plain", "charset": "utf-8"},
                     id="empty-text"),
    ],
)
def test_hook_arguments_follow_drums_decoding_rules(
    mimetype: str, charset: str | None, data: bytes, expected_data: str | bytes,
    expected_kwargs: dict[str, Any],
) -> None:
    got_data, kwargs = hook_arguments(request(data, mimetype, charset))

    assert (type(got_data), got_data) == (type(expected_data), expected_data)
    assert kwargs == {**expected_kwargs, "query": QUERY, "headers": HEADERS}


@pytest.mark.parametrize(
    ("mimetype", "charset", "data", "message"),
    [
        pytest.param("text/plain", "utf-16", b"x",
                     "cannot be decoded as utf-16 (the charset of its Content-Type",
                     id="truncated-utf16"),
        pytest.param("", None, b"\xff\xfe\xfd", "cannot be decoded as utf-8", id="not-utf8"),
        pytest.param("text/plain", "no-such-charset", b"x",
                     "Unknown charset 'no-such-charset' in the request's Content-Type",
                     id="unknown-charset"),
    ],
)
def test_undecodable_text_is_the_clients_error(
    mimetype: str, charset: str | None, data: bytes, message: str
) -> None:
    # DRUM answers 500 here (README, "Differences from DRUM").
    with pytest.raises(UnprocessableEntityError) as refused:
        hook_arguments(request(data, mimetype, charset))

    assert refused.value.status_code == 422
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        pytest.param("hé", UnstructuredAnswer("hé".encode(), "text/plain; charset=utf-8"),
                     id="str"),
        pytest.param(b"\x00\x01", UnstructuredAnswer(b"\x00\x01", "application/octet-stream"),
                     id="bytes"),
        pytest.param(None, UnstructuredAnswer(b"", "text/plain; charset=utf-8"), id="none"),
        pytest.param(("a,b\n", {"mimetype": "text/csv"}),
                     UnstructuredAnswer(b"a,b\n", "text/csv; charset=utf-8"), id="str-mimetype"),
        pytest.param(("hé", {"charset": "latin-1"}),
                     UnstructuredAnswer(b"h\xe9", "text/plain; charset=latin-1"),
                     id="str-charset"),
        pytest.param((b"\x89PNG", {"mimetype": "image/png"}),
                     UnstructuredAnswer(b"\x89PNG", "image/png"), id="bytes-mimetype"),
        pytest.param((b"x", {"charset": "utf-8"}),
                     UnstructuredAnswer(b"x", "application/octet-stream; charset=utf-8"),
                     id="bytes-charset"),
        pytest.param((None, {"mimetype": "application/json"}),
                     UnstructuredAnswer(b"", "application/json; charset=utf-8"),
                     id="none-mimetype"),
        pytest.param(("x", {"mimetype": None}), UnstructuredAnswer(b"x", FLASK_DEFAULT_CONTENT_TYPE),
                     id="mimetype-none-is-flasks-default"),
        pytest.param(("x", None), UnstructuredAnswer(b"x", "text/plain; charset=utf-8"),
                     id="options-none"),
        pytest.param(("x", {"mimetype": "text/html", "other": 1}),
                     UnstructuredAnswer(b"x", "text/html; charset=utf-8"),
                     id="other-options-ignored"),
    ],
)
def test_answer_follows_drums_return_rules(result: Any, expected: UnstructuredAnswer) -> None:
    assert answer(result) == expected


@pytest.mark.parametrize(
    ("result", "message"),
    [
        pytest.param(123, "In unstructured mode single return value can be of type str/bytes,"
                     " but received <class 'int'>", id="int"),
        pytest.param(["a"], "In unstructured mode single return value can be of type str/bytes,"
                     " but received <class 'list'>", id="list"),
        pytest.param(("a", {}, 1), "In unstructured mode predictions of type tuple must have"
                     " length = 2, but received length = 3", id="tuple-of-3"),
        pytest.param((), "In unstructured mode predictions of type tuple must have length = 2,"
                     " but received length = 0", id="empty-tuple"),
        pytest.param(("a", "nodict"), "In unstructured mode tuple return value must be of type"
                     " (str/bytes, dict) but received (<class 'str'>, <class 'str'>)",
                     id="options-not-a-dict"),
        pytest.param((5, {}), "In unstructured mode tuple return value must be of type"
                     " (str/bytes, dict) but received (<class 'int'>, <class 'dict'>)",
                     id="data-not-str-or-bytes"),
    ],
)
def test_other_returns_are_drums_500(result: Any, message: str) -> None:
    with pytest.raises(PredictionError) as refused:
        answer(result)

    assert (refused.value.status_code, refused.value.message) == (500, message)


def test_text_in_a_charset_of_none_fails_as_in_drum() -> None:
    # DRUM answers 500 with this text: str.encode(None) is the model's mistake.
    with pytest.raises(TypeError, match="encode\\(\\) argument 'encoding' must be str, not None"):
        answer(("x", {"charset": None}))

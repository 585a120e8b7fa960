"""/predictUnstructured/ beyond the recorded contract: what the hook gets (query, headers,
decoded data), what its answers become on the wire, failures that keep the server serving,
the model shapes DataRobot ships, and the extension hooks that guard the route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.app import drum_client, server_config
from support.model_dirs import write_custom_py

from drum_bridge.errors import ModelLoadError

ROUTES = ("/predictUnstructured/", "/predictionsUnstructured/")
ECHO = """\
import json
import threading

from drum_bridge.errors import CustomHTTPError


def load_model(code_dir):
    return "echo"


def score_unstructured(model, data, query, **kwargs):
    ret = query.get("ret")
    if ret == "png":
        return b"\\x89PNG", {"mimetype": "image/png"}
    if ret == "csv-bytes":
        return b"a,b\\n", {"mimetype": "text/csv"}
    if ret == "mimetype-none":
        return "<p>x</p>", {"mimetype": None}
    if ret == "latin-1":
        return "h\\u00e9", {"charset": "latin-1"}
    if ret == "tuple-of-3":
        return "a", {}, 1
    if ret == "raise":
        raise RuntimeError("the hook failed on purpose")
    if ret == "teapot":
        raise CustomHTTPError("short and stout", status_code=418)
    return json.dumps({
        "type": type(data).__name__,
        "data": data if isinstance(data, str) else data.hex(),
        "query": dict(query),
        "lists": {key: query.getlist(key) for key in query},
        "mimetype": kwargs.get("mimetype"),
        "charset": kwargs.get("charset"),
        "headers": {k: v for k, v in kwargs["headers"].items() if k.startswith("X-")},
        "thread": threading.current_thread().name,
    })
"""


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[TestClient]:
    code_dir = write_custom_py(tmp_path / "model", ECHO)
    with drum_client(server_config(code_dir, "unstructured")) as client:
        yield client


def seen(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    result: dict[str, Any] = json.loads(response.text)
    return result


@pytest.mark.parametrize("route", ROUTES)
def test_hook_gets_query_and_headers_as_flask_gives_them(echo: TestClient, route: str) -> None:
    response = echo.post(
        f"{route}?a=1&a=2&b=&c=%C3%A9",
        content=b"hi",
        headers=[("X-Foo", "1"), ("X-Foo", "2"), ("x-lower-case", "3"), ("X_Bar", "4")],
    )

    got = seen(response)
    # request.args: dict() and query["a"] give the first value; getlist gives them all.
    assert got["query"] == {"a": "1", "b": "", "c": "é"}
    assert got["lists"] == {"a": ["1", "2"], "b": [""], "c": ["é"]}
    # dict(request.headers): capitalised names, repeats joined; gunicorn drops X_Bar.
    assert got["headers"] == {"X-Foo": "1,2", "X-Lower-Case": "3"}
    assert (got["type"], got["data"], got["mimetype"], got["charset"]) == (
        "str", "hi", "text/plain", "utf-8"
    )


def test_media_type_is_matched_case_insensitively(echo: TestClient) -> None:
    # DRUM passes "Text/Plain" as bytes; media types are case-insensitive (README).
    response = echo.post(
        ROUTES[0], content="hé".encode(), headers={"Content-Type": "Text/Plain; Charset=UTF-8"}
    )

    got = seen(response)
    assert (got["type"], got["data"], got["mimetype"], got["charset"]) == (
        "str", "hé", "text/plain", "UTF-8"
    )


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        pytest.param("text/plain; charset=utf-16", b"x", "cannot be decoded as utf-16",
                     id="utf-16"),
        pytest.param(None, b"\xff\xfe\xfd", "cannot be decoded as utf-8", id="no-content-type"),
        pytest.param("application/json; charset=nonsense", b"{}", "Unknown charset 'nonsense'",
                     id="unknown-charset"),
    ],
)
def test_undecodable_body_is_a_422_naming_the_charset(
    echo: TestClient, content_type: str | None, body: bytes, message: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = echo.post(ROUTES[0], content=body, headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"].startswith("ERROR: ")
    assert message in response.json()["message"]
    assert seen(echo.post(ROUTES[0], content=b"still serving"))["data"] == "still serving"


@pytest.mark.parametrize(
    ("ret", "body", "content_type"),
    [
        pytest.param("png", b"\x89PNG", "image/png", id="bytes-with-mimetype"),
        # No charset added: the hook named none for its bytes.
        pytest.param("csv-bytes", b"a,b\n", "text/csv", id="text-mimetype-for-bytes"),
        pytest.param("mimetype-none", b"<p>x</p>", "text/html; charset=utf-8",
                     id="mimetype-none-is-flasks-default"),
        pytest.param("latin-1", b"h\xe9", "text/plain; charset=latin-1", id="str-in-latin-1"),
    ],
)
def test_answer_bytes_and_content_type_on_the_wire(
    echo: TestClient, ret: str, body: bytes, content_type: str
) -> None:
    response = echo.post(f"{ROUTES[0]}?ret={ret}", content=b"x")

    assert (response.status_code, response.content) == (200, body)
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize(
    ("ret", "status", "body", "user_error"),
    [
        pytest.param("tuple-of-3", 500, {"message": "ERROR: In unstructured mode predictions of"
                     " type tuple must have length = 2, but received length = 3"}, None,
                     id="bad-return"),
        pytest.param("raise", 500, {"message": "ERROR: the hook failed on purpose"}, None,
                     id="hook-raises"),
        pytest.param("teapot", 418, {"message": "short and stout"}, "true",
                     id="custom-http-error"),
    ],
)
def test_failures_answer_drums_errors_and_keep_serving(
    echo: TestClient, ret: str, status: int, body: dict[str, str], user_error: str | None
) -> None:
    response = echo.post(f"{ROUTES[0]}?ret={ret}", content=b"x")

    assert (response.status_code, response.json()) == (status, body)
    assert response.headers.get("x-drum-user-http-error") == user_error
    assert seen(echo.post(ROUTES[0], content=b"again"))["data"] == "again"


def test_sync_hook_runs_in_a_model_thread(echo: TestClient) -> None:
    assert seen(echo.post(ROUTES[0], content=b"x"))["thread"].startswith("drum-model-")


def test_unstructured_model_without_the_hook_does_not_start(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", """
        def load_model(code_dir):
            return "m"

        def score(data, model, **kwargs):
            return data
    """)

    with pytest.raises(ModelLoadError, match="In 'unstructured' mode hook 'score_unstructured'"
                       " must be provided."):
        with drum_client(server_config(code_dir, "unstructured")):
            pass


@pytest.mark.parametrize(
    ("target_type", "message"),
    [
        pytest.param("regression", "ERROR: This model has target type TargetType.REGRESSION,"
                     " use either /predict/ or /predictions/ endpoint.", id="regression"),
        pytest.param("anomaly", "ERROR: This model has target type TargetType.ANOMALY,"
                     " use either /predict/ or /predictions/ endpoint.", id="anomaly"),
    ],
)
def test_structured_model_refuses_the_route(
    tmp_path: Path, target_type: str, message: str
) -> None:
    # Even with a score_unstructured hook: DRUM routes only unstructured and text
    # generation models to it.
    code_dir = write_custom_py(tmp_path / "model", ECHO + """

def score(data, model, **kwargs):
    return data[["a"]].rename(columns={"a": "Predictions"})
""")
    with drum_client(server_config(code_dir, target_type)) as client:
        response = client.post(ROUTES[0], content=b"x")

    assert (response.status_code, response.json()) == (422, {"message": message})


def test_transform_route_points_an_unstructured_model_to_its_route(echo: TestClient) -> None:
    response = echo.post("/transform/", content=b"a\n1\n", headers={"Content-Type": "text/csv"})

    assert (response.status_code, response.json()) == (422, {
        "message": "ERROR: This model has target type TargetType.UNSTRUCTURED,"
        " use the /predictUnstructured/ endpoint."
    })


TEXTGEN = """\
import pandas as pd


def load_model(code_dir):
    return "llm"


def score(data, model, **kwargs):
    return pd.DataFrame({"answer": data["prompt"].str.upper()})
"""


def test_text_generation_model_with_the_hook_is_served(tmp_path: Path) -> None:
    # DRUM never calls score_unstructured of a text generation model (500 "'NoneType' object
    # is not callable"); drum-bridge calls it when custom.py defines it.
    code_dir = write_custom_py(tmp_path / "model", TEXTGEN + """

def score_unstructured(model, data, query, **kwargs):
    return f"guard says ok to {data}"
""")
    config = server_config(code_dir, "textgeneration", environ={"TARGET_NAME": "answer"})
    with drum_client(config) as client:
        response = client.post(ROUTES[1], content=b"hello")

    assert (response.status_code, response.text) == (200, "guard says ok to hello")


def test_text_generation_model_without_the_hook_says_so(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", TEXTGEN)
    config = server_config(code_dir, "textgeneration", environ={"TARGET_NAME": "answer"})
    with drum_client(config) as client:
        response = client.post(ROUTES[0], content=b"hello")
        predicted = client.post("/predict/", content=b"prompt\nhi\n",
                                headers={"Content-Type": "text/csv"})

    assert (response.status_code, response.json()) == (422, {
        "message": "ERROR: This model has target type TargetType.TEXT_GENERATION and its"
        " custom.py defines no score_unstructured hook; use either /predict/ or /predictions/"
        " endpoint."
    })
    assert predicted.json() == {"predictions": ["HI"]}


# --- the unstructured model DataRobot's templates ship ------------------------------------

#: The shape of DataRobot's unstructured template: ``load_model`` with its own parameter
#: name, ``score_unstructured(model, data, **kwargs)`` reading ``query`` and ``mimetype``
#: from kwargs, printing, and answering a str or big-endian bytes.
TEMPLATE = """\
def load_model(input_dir):
    return "dummy"


def score_unstructured(model, data, **kwargs):
    print("Incoming kwargs:", sorted(kwargs))
    query = kwargs.get("query")
    if isinstance(data, bytes):
        data = data.decode("utf8")
    words = len(data.split())
    if query.get("ret_mode", "") == "binary":
        return words.to_bytes(4, byteorder="big"), {"mimetype": "application/octet-stream"}
    return f"{words} words as {kwargs.get('mimetype')}"
"""


@pytest.fixture
def template(tmp_path: Path) -> Iterator[TestClient]:
    code_dir = write_custom_py(tmp_path / "model", TEMPLATE)
    with drum_client(server_config(code_dir, "unstructured")) as client:
        yield client


def test_datarobots_unstructured_template_answers_text(template: TestClient) -> None:
    response = template.post(ROUTES[0], content=b"three small words")

    assert (response.status_code, response.text) == (200, "3 words as text/plain")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_datarobots_unstructured_template_answers_bytes(template: TestClient) -> None:
    response = template.post(
        f"{ROUTES[1]}?ret_mode=binary",
        content=b"one two",
        headers={"Content-Type": "application/octet-stream"},
    )

    assert (response.status_code, response.content) == (200, (2).to_bytes(4, "big"))
    assert response.headers["content-type"] == "application/octet-stream"


# --- extension hooks guard the route --------------------------------------------------------

#: Records each call in the code dir, so a test can tell the hook never ran.
RECORDING = """\
from pathlib import Path


def load_model(code_dir):
    return Path(code_dir)


def score_unstructured(model, data, query, **kwargs):
    with (model / "calls.log").open("a") as log:
        log.write("called\\n")
    return "scored"
"""
FLASK_GUARD = """\
from flask import jsonify, request


def init_app(app):
    @app.before_request
    def guard():
        if request.headers.get("X-Token") != "letmein":
            return jsonify({"message": "denied"}), 401
"""
FASTAPI_GUARD = """\
from starlette.responses import JSONResponse


def init_app(app):
    @app.middleware("http")
    async def guard(request, call_next):
        if request.headers.get("x-token") != "letmein":
            return JSONResponse({"message": "denied"}, status_code=401)
        return await call_next(request)
"""


@pytest.mark.parametrize(
    ("file_name", "source"),
    [("custom_flask.py", FLASK_GUARD), ("custom_fastapi.py", FASTAPI_GUARD)],
    ids=["custom_flask", "custom_fastapi"],
)
def test_extension_guards_the_unstructured_routes(
    tmp_path: Path, file_name: str, source: str
) -> None:
    code_dir = write_custom_py(tmp_path / "model", RECORDING)
    (code_dir / file_name).write_text(source)
    with drum_client(server_config(code_dir, "unstructured")) as client:
        denied = [client.post(route, content=b"x").status_code for route in ROUTES]
        assert not (code_dir / "calls.log").exists()
        allowed = [
            client.post(route, content=b"x", headers={"X-Token": "letmein"}) for route in ROUTES
        ]

    assert denied == [401, 401]
    assert [(r.status_code, r.text) for r in allowed] == [(200, "scored")] * 2
    assert (code_dir / "calls.log").read_text() == "called\n" * 2

"""custom_flask.py hooks translated around FastAPI-served routes, as Flask would run them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ..conftest import CSV

Serve = Callable[..., TestClient]

AUTH = """
from flask import request, jsonify

def init_app(app):
    @app.before_request
    def check_header():
        if request.endpoint not in ("model_api.ping", "model_api.health"):
            if request.headers.get("X-Auth") != "t0k3n":
                return jsonify({"message": "denied", "endpoint": request.endpoint}), 401
"""


@pytest.fixture(params=[False, True], ids=["threaded", "inline"])
def inline(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/info/"),
        ("GET", "/capabilities/"),
        ("GET", "/stats/"),
        ("POST", "/predict/"),
        ("POST", "/invocations"),
        ("GET", "/predict/"),
        ("GET", "/nonexistent/"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("OPTIONS", "/predict/"),
        ("HEAD", "/info/"),
        ("PUT", "/info/"),
        ("GET", "/info"),
        ("POST", "/predict"),
    ],
)
def test_hook_guards_every_path_and_method(serve: Serve, inline: bool, method: str, path: str) -> None:
    client = serve({"custom_flask.py": AUTH}, flask_hooks_inline=inline)
    response = client.request(method, path, content=CSV, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert "x_request_id" in response.headers and "x-drum-version" in response.headers
    if method != "HEAD":
        # Flask matched nothing for unknown paths and for paths it would redirect.
        matched = {"/info/": "model_api.info", "/capabilities/": "model_api.capabilities",
                   "/stats/": "model_api.stats", "/predict/": "model_api.predict",
                   "/invocations": "model_api.predict"}
        expected = matched.get(path) if method in ("GET", "POST", "OPTIONS", "HEAD") else None
        if method == "GET" and path in ("/predict/",) or method == "OPTIONS":
            expected = response.json()["endpoint"]  # 405 and OPTIONS still name the rule or None
        assert response.json()["endpoint"] == expected


def test_hook_lets_allowed_endpoints_and_token_through(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": AUTH}, flask_hooks_inline=inline)
    assert client.get("/").json() == {"message": "OK"}
    assert client.get("/ping").status_code == 200
    assert client.get("/health/").status_code == 200
    response = client.post("/predict/", content=CSV, headers={"X-Auth": "t0k3n", "Content-Type": "text/csv"})
    assert response.status_code == 200
    assert response.json() == {"predictions": [pytest.approx(3.0), pytest.approx(7.0)]}


RETURNS = """
from flask import Response, jsonify, request

def init_app(app):
    @app.before_request
    def answer():
        kind = request.headers.get("X-Kind")
        if kind == "dict":
            return {"kind": "dict"}
        if kind == "str":
            return "plain"
        if kind == "tuple":
            return "teapot", 418, {"X-Extra": "1"}
        if kind == "response":
            return Response("raw", status=202, mimetype="text/csv")
        if kind == "jsonify":
            return jsonify(kind="jsonify"), 409
"""


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "body"),
    [
        ("dict", 200, "application/json", b'{"kind":"dict"}\n'),
        ("str", 200, "text/html; charset=utf-8", b"plain"),
        ("tuple", 418, "text/html; charset=utf-8", b"teapot"),
        ("response", 202, "text/csv; charset=utf-8", b"raw"),
        ("jsonify", 409, "application/json", b'{"kind":"jsonify"}\n'),
    ],
)
def test_hook_return_values_become_the_answer(
    serve: Serve, inline: bool, kind: str, status: int, content_type: str, body: bytes
) -> None:
    client = serve({"custom_flask.py": RETURNS}, flask_hooks_inline=inline)
    response = client.get("/info/", headers={"X-Kind": kind})
    assert (response.status_code, response.headers["content-type"], response.content) == (
        status, content_type, body
    )
    assert "x_request_id" in response.headers
    if kind == "tuple":
        assert response.headers["x-extra"] == "1"


ERRORS = """
from flask import abort, request

def init_app(app):
    @app.before_request
    def fail():
        mode = request.headers.get("X-Mode")
        if mode == "raise":
            raise RuntimeError("boom in before_request")
        if mode == "abort":
            abort(403)
        if mode == "teapot":
            abort(418)

    @app.errorhandler(418)
    def teapot(exc):
        return {"handled": exc.code}, 418
"""


def test_exception_in_hook_is_drum_500_and_server_keeps_serving(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": ERRORS}, flask_hooks_inline=inline)
    response = client.get("/info/", headers={"X-Mode": "raise"})
    assert response.status_code == 500
    assert response.json() == {"message": "ERROR: boom in before_request"}
    assert client.get("/nonexistent/", headers={"X-Mode": "raise"}).json() == {
        "message": "ERROR: boom in before_request"
    }
    assert client.get("/info/").status_code == 200


def test_abort_keeps_its_status_and_errorhandler_applies(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": ERRORS}, flask_hooks_inline=inline)
    response = client.get("/info/", headers={"X-Mode": "abort"})
    assert response.status_code == 403
    assert response.json()["message"].startswith("ERROR: 403 Forbidden: You don't have the permission")
    assert client.get("/info/", headers={"X-Mode": "teapot"}).json() == {"handled": 418}
    # Off DRUM's routes Flask's own page answers, as in DRUM.
    page = client.get("/nonexistent/", headers={"X-Mode": "abort"})
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")


G_AND_TEARDOWN = """
from flask import g, request

SEEN = []

def init_app(app):
    @app.before_request
    def remember():
        g.value = request.headers.get("X-Value", "none")

    @app.after_request
    def echo(response):
        response.headers["X-Echo"] = g.value
        response.headers["X-Status-Seen"] = str(response.status_code)
        if request.headers.get("X-Make") == "201":
            response.status_code = 201
        return response

    @app.teardown_request
    def teardown(exc):
        SEEN.append((g.get("value"), repr(exc)))

    @app.route("/seen/")
    def seen():
        return {"seen": SEEN}
"""


def test_g_is_shared_with_after_request_and_teardown(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": G_AND_TEARDOWN}, flask_hooks_inline=inline)
    response = client.get("/info/", headers={"X-Value": "v1", "X-Make": "201"})
    assert response.status_code == 201
    assert response.headers["x-echo"] == "v1"
    assert response.headers["x-status-seen"] == "200"
    assert response.json()["targetType"] == "regression"
    seen = client.get("/seen/", headers={"X-Value": "v2"}).json()["seen"]
    assert ["v1", "None"] in seen


def test_teardown_gets_the_exception_of_a_failing_route(serve: Serve) -> None:
    fastapi_ext = """
    def init_app(app):
        @app.get("/explode")
        def explode():
            raise ValueError("kaput")
    """
    client = serve(
        {"custom_flask.py": G_AND_TEARDOWN, "custom_fastapi.py": fastapi_ext},
        load_all_extensions=True,
        raise_server_exceptions=False,
    )
    assert client.get("/explode", headers={"X-Value": "x"}).status_code == 500
    assert ["x", "ValueError('kaput')"] in client.get("/seen/").json()["seen"]


BODY_READER = """
from flask import request, g

def init_app(app):
    @app.before_request
    def peek():
        if request.mimetype == "application/json":
            g.peeked = request.get_json()["rows"]
        else:
            g.peeked = len(request.get_data())

    @app.after_request
    def tell(response):
        response.headers["X-Peeked"] = str(g.peeked)
        return response
"""


def test_hook_reading_the_body_leaves_it_for_the_route(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": BODY_READER}, flask_hooks_inline=inline)
    response = client.post("/predict/", content=CSV, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2
    assert response.headers["x-peeked"] == str(len(CSV))
    multipart = client.post("/predict/", files={"X": ("x.csv", CSV)})
    assert multipart.status_code == 200 and len(multipart.json()["predictions"]) == 2


SESSION = """
from flask import session

def init_app(app):
    app.secret_key = "not-so-secret"

    @app.before_request
    def count():
        session["visits"] = session.get("visits", 0) + 1

    @app.after_request
    def tell(response):
        response.headers["X-Visits"] = str(session["visits"])
        return response
"""


def test_session_works_across_requests(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": SESSION}, flask_hooks_inline=inline)
    assert client.get("/info/").headers["x-visits"] == "1"
    assert client.get("/ping/").headers["x-visits"] == "2"
    assert client.get("/nonexistent/").headers["x-visits"] == "3"


COUNTER = """
from flask import Blueprint, request

CALLS = {"before": 0, "after": 0}
bp = Blueprint("mine", __name__)

@bp.route("/mine/hello")
def hello():
    return {"before": CALLS["before"], "blueprint_hook": request.environ.get("bp_hook", 0)}

@bp.before_request
def bp_hook():
    request.environ["bp_hook"] = request.environ.get("bp_hook", 0) + 1

def init_app(app):
    @app.before_request
    def before():
        CALLS["before"] += 1

    @app.after_request
    def after(response):
        CALLS["after"] += 1
        response.headers["X-After"] = str(CALLS["after"])
        return response

    app.register_blueprint(bp)

    @app.route("/calls/")
    def calls():
        return dict(CALLS)
"""


def test_user_flask_routes_run_their_hooks_once(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": COUNTER}, flask_hooks_inline=inline)
    assert client.get("/mine/hello").json() == {"before": 1, "blueprint_hook": 1}
    assert client.get("/calls/").json() == {"before": 2, "after": 1}
    assert client.get("/info/").headers["x-after"] == "3"
    assert client.get("/calls/").json() == {"before": 4, "after": 3}
    assert client.get("/mine/nothing").status_code == 404
    assert client.get("/calls/").json() == {"before": 6, "after": 5}


ASYNC_HOOK = """
import asyncio
from flask import request

def init_app(app):
    @app.before_request
    async def check():
        await asyncio.sleep(0)
        if request.headers.get("X-Auth") != "ok":
            return {"message": "denied"}, 401
"""


def test_async_hooks_run_even_in_inline_mode(serve: Serve, inline: bool, caplog: pytest.LogCaptureFixture) -> None:
    client = serve({"custom_flask.py": ASYNC_HOOK}, flask_hooks_inline=inline)
    assert client.get("/info/").status_code == 401
    assert client.get("/info/", headers={"X-Auth": "ok"}).status_code == 200
    if inline:
        assert "hooks run in worker threads despite the inline setting" in caplog.text


HTTPAUTH = """
from flask import g
from flask_httpauth import HTTPTokenAuth

auth = HTTPTokenAuth(scheme="Bearer")
TOKENS = {"s3cret": "alice"}

@auth.verify_token
def verify(token):
    return TOKENS.get(token)

def init_app(app):
    @app.before_request
    @auth.login_required
    def guard():
        g.user = auth.current_user()

    @app.after_request
    def who(response):
        if "user" in g:
            response.headers["X-User"] = g.user
        return response
"""


def test_third_party_flask_extension_guards_drum_routes(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": HTTPAUTH}, flask_hooks_inline=inline)
    denied = client.get("/info/")
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"].startswith("Bearer")
    allowed = client.get("/info/", headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200 and allowed.headers["x-user"] == "alice"


BROKEN_SESSIONS = """
from flask.sessions import SecureCookieSessionInterface

class SessionStoreDown(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if request.headers.get("X-Break"):
            raise ConnectionError("session store unreachable")
        return super().open_session(app, request)

def init_app(app):
    app.session_interface = SessionStoreDown()
"""


def test_flask_failing_before_the_hooks_is_a_drum_500(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": BROKEN_SESSIONS}, flask_hooks_inline=inline)
    response = client.get("/info/", headers={"X-Break": "1"})
    assert (response.status_code, response.json()) == (500, {"message": "ERROR: session store unreachable"})
    assert "x_request_id" in response.headers
    assert client.get("/info/").status_code == 200


SIGNALS = """
from flask import request, request_started, request_tearing_down, appcontext_tearing_down

SEEN = []

def init_app(app):
    request_started.connect(lambda sender, **kw: SEEN.append("started"), app, weak=False)
    request_tearing_down.connect(lambda sender, **kw: SEEN.append("request-teardown"), app, weak=False)
    appcontext_tearing_down.connect(lambda sender, **kw: SEEN.append("app-teardown"), app, weak=False)

    @app.route("/seen/")
    def seen():
        return {"seen": list(SEEN)}
"""


def test_flask_signals_fire_for_translated_requests(serve: Serve, inline: bool) -> None:
    client = serve({"custom_flask.py": SIGNALS}, flask_hooks_inline=inline)
    assert client.get("/info/").status_code == 200
    seen = client.get("/seen/").json()["seen"]
    assert seen[:3] == ["started", "request-teardown", "app-teardown"]

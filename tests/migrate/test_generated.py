"""What a generated custom_fastapi.py does when drum-bridge serves it alone."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drum_bridge import create_app
from drum_bridge.migrate.reading import read_flask_extension
from drum_bridge.migrate.writing import write_fastapi_extension

from .conftest import GUIDE, MakeModel


def generated(source: str) -> str:
    return write_fastapi_extension(read_flask_extension(textwrap.dedent(source)))


@pytest.fixture
def serve_generated(make_model: MakeModel, tmp_path: Path) -> Iterator[tuple[Path, TestClient]]:
    """A code dir holding only the custom_fastapi.py generated from the guide's auth example."""
    code_dir = make_model(GUIDE / "flask_auth.py")
    flask_file = code_dir / "custom_flask.py"
    (code_dir / "custom_fastapi.py").write_text(generated(flask_file.read_text()))
    flask_file.unlink()
    with TestClient(create_app(code_dir=code_dir, target_type="regression")) as client:
        yield code_dir, client


def test_endpoint_checks_follow_the_drum_route_that_matched(serve_generated: tuple[Path, TestClient]) -> None:
    """`request.endpoint == "model_api.ping"` became a route check: / and /ping/ pass, as in Flask."""
    _, client = serve_generated
    for path in ("/", "/ping/", "/ping"):
        assert client.get(path).json() == {"message": "OK"}, path
    for path in ("/info/", "/health/", "/PING/", "/no-such-route"):
        assert client.get(path, follow_redirects=False).status_code == 401, path
    assert client.post("/ping/").status_code == 401  # a refused method matches no endpoint
    assert client.get("/info/", headers={"X-Auth-Token": "secret"}).status_code == 200


def test_hooks_become_pure_asgi_middleware() -> None:
    text = generated((GUIDE / "flask_auth.py").read_text())
    assert "BaseHTTPMiddleware" not in text
    assert "class CheckAuthMiddleware:\n" in text
    assert "async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:" in text
    assert "app.add_middleware(CheckAuthMiddleware)" in text


TEARDOWN_AND_ASYNC = """
from pathlib import Path

from flask import jsonify, request

LOG = Path(__file__).with_name("teardown.log")


def init_app(app):
    @app.before_request
    async def refuse_delete():
        if request.method == "DELETE":
            return jsonify(message="no deletes"), 405

    @app.teardown_request
    def note(error):
        with LOG.open("a") as log:
            log.write(f"done {error is None}\\n")
"""


def test_teardown_runs_after_each_request_and_async_hooks_are_awaited(
    make_model: MakeModel, tmp_path: Path
) -> None:
    source = tmp_path / "hooks.py"
    source.write_text(TEARDOWN_AND_ASYNC)
    code_dir = make_model(source)
    text = generated(source.read_text())
    assert "async def refuse_delete(request: Request) -> Response | None:" in text
    assert "await refuse_delete(Request(scope))" in text
    (code_dir / "custom_fastapi.py").write_text(text)
    (code_dir / "custom_flask.py").unlink()
    with TestClient(create_app(code_dir=code_dir, target_type="regression")) as client:
        refused = client.delete("/info/")
        assert (refused.status_code, refused.json()) == (405, {"message": "no deletes"})
        assert client.get("/ping/").status_code == 200
    assert (code_dir / "teardown.log").read_text() == "done True\ndone True\n"


def test_untranslated_route_is_a_marked_place_and_check_names_it(
    make_model: MakeModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drum_bridge.cli import main

    source = tmp_path / "route.py"
    source.write_text(textwrap.dedent("""
        from flask import Blueprint, g

        bp = Blueprint("extra", __name__)

        @bp.route("/whoami")
        def whoami():
            return g.get("user", "nobody")

        def init_app(app):
            app.register_blueprint(bp, url_prefix="/v1")
    """))
    code_dir = make_model(source)
    assert main(["migrate", "--code-dir", str(code_dir), "--write"]) == 0
    out = capsys.readouterr().out
    assert "[not translatable] route GET /whoami (line 7)" in out
    text = (code_dir / "custom_fastapi.py").read_text()
    assert "# TODO(drum-bridge migrate): route GET /whoami (line 7) was not translated:" in text
    assert "#     @bp.route(\"/whoami\")" in text
    assert "app.include_router(bp, prefix='/v1')" in text
    assert main(["migrate", "--code-dir", str(code_dir), "--check", "--target-type", "regression"]) == 1
    out = capsys.readouterr().out
    assert "GET /v1/whoami: status 200 (custom_flask.py) != 404 (custom_fastapi.py)" in out


ROUTES = """
from flask import Blueprint, jsonify, request
from flask_httpauth import HTTPTokenAuth

auth = HTTPTokenAuth()
bp = Blueprint("items", __name__, url_prefix="/items")


@auth.verify_token
def verify(token):
    return {"t0k3n": "bob"}.get(token)


@bp.get("/<int:item_id>")
def item(item_id):
    return {"id": item_id, "double": item_id * 2}


@bp.route("/mine", methods=["GET", "POST"])
@auth.login_required
def mine():
    return jsonify(user=auth.current_user(), method=request.method)


def init_app(app):
    app.register_blueprint(bp)

    @app.route("/hello")
    def hello():
        return f"hello {request.args.get('name', 'world')}", 200, {"X-Greeting": "yes"}
"""


def test_routes_converters_and_token_dependency(
    make_model: MakeModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Static routes before converter routes, as werkzeug matches; the one remark is what differs."""
    from drum_bridge.cli import main

    source = tmp_path / "routes.py"
    source.write_text(ROUTES)
    code_dir = make_model(source)
    assert main(["migrate", "--code-dir", str(code_dir), "--write"]) == 0
    out = capsys.readouterr().out
    assert "[needs a look] route GET/POST /mine (line 21)" in out
    assert "[automatic] route GET /<int:item_id> (line 15)" in out
    text = (code_dir / "custom_fastapi.py").read_text()
    assert "dependencies=[Depends(require_auth)]" in text
    (code_dir / "custom_flask.py").rename(code_dir / "flask.py.orig")
    with TestClient(create_app(code_dir=code_dir, target_type="regression")) as client:
        assert client.get("/items/21").json() == {"id": 21, "double": 42}
        mine = client.post("/items/mine", headers={"Authorization": "Bearer t0k3n"})
        assert mine.json() == {"user": "bob", "method": "POST"}
        assert client.get("/items/mine").status_code == 401
        hello = client.get("/hello?name=drum")
        assert (hello.text, hello.headers["x-greeting"]) == ("hello drum", "yes")
    (code_dir / "flask.py.orig").rename(code_dir / "custom_flask.py")
    assert main(["migrate", "--code-dir", str(code_dir), "--check", "--target-type", "regression"]) == 1
    differences = [line for line in capsys.readouterr().out.splitlines() if " != " in line]
    assert differences and all(line.startswith("  GET /items/mine") or line.startswith("  POST /items/mine")
                               or line.startswith("  HEAD /items/mine") for line in differences)
    assert all("content-type" in line or "body b'Unauthorized Access'" in line for line in differences)


@pytest.mark.parametrize("mount", ["", "/models/m"])
def test_endpoint_checks_under_a_url_prefix_and_a_mount(make_model: MakeModel, mount: str) -> None:
    from fastapi import FastAPI

    code_dir = make_model(GUIDE / "flask_auth.py")
    flask_file = code_dir / "custom_flask.py"
    (code_dir / "custom_fastapi.py").write_text(generated(flask_file.read_text()))
    flask_file.unlink()
    app = create_app(code_dir=code_dir, target_type="regression", url_prefix="/v1")
    served: FastAPI = app
    if mount:
        served = FastAPI(lifespan=lambda host: app.lifespan_context(host))
        served.mount(mount, app)
    with TestClient(served) as client:
        for path in ("/v1/", "/v1/ping/", "/v1/ping"):
            assert client.get(mount + path).json() == {"message": "OK"}, path
        assert client.get(mount + "/ping/").status_code == 401  # not a DRUM route under the prefix
        assert client.get(mount + "/v1/info/").status_code == 401
        assert client.get(mount + "/v1/info/", headers={"X-Auth-Token": "secret"}).status_code == 200

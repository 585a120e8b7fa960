"""The legacy Flask app custom_flask.py receives: DRUM's rules, and URL adapters that
bind exactly as Flask's own would (drum-bridge builds them faster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from werkzeug.exceptions import BadHost, HTTPException
from werkzeug.routing import MapAdapter

from drum_bridge.extensions.flask.legacy_app import build_legacy_app

ADAPTER_FIELDS = (
    "server_name", "script_name", "subdomain", "url_scheme", "path_info", "default_method",
    "query_args", "websocket",
)


def environ(**overrides: str) -> dict[str, Any]:
    base = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/ping/", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8080", "wsgi.url_scheme": "http",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v != "<absent>"}


def outcome(adapter: MapAdapter) -> object:
    """What matching answers: the endpoint, or the routing exception (and where it points)."""
    try:
        return adapter.match(return_rule=True)[0].endpoint
    except HTTPException as exc:
        return type(exc).__name__, getattr(exc, "new_url", None)


def latin1(text: str) -> str:
    """A WSGI string: the UTF-8 bytes of ``text`` as latin-1 code points."""
    return text.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"HTTP_HOST": "Example.COM"},
        {"HTTP_HOST": "example.com:80"},
        {"HTTP_HOST": "example.com:443", "wsgi.url_scheme": "https"},
        {"HTTP_HOST": "<absent>"},
        {"HTTP_HOST": latin1("bücher.de")},
        {"PATH_INFO": "//health/"},
        {"PATH_INFO": latin1("/ünï/x y")},
        {"SCRIPT_NAME": "/model/v1", "PATH_INFO": "/predict/"},
        {"QUERY_STRING": latin1("a=1&b=ü"), "REQUEST_METHOD": "POST"},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain",
)
def test_adapter_binds_as_flask_does(tmp_path: Path, overrides: dict[str, str]) -> None:
    app = build_legacy_app(tmp_path, "")
    env = environ(**overrides)
    ours = app.create_url_adapter(app.request_class(env))
    flasks = Flask.create_url_adapter(app, app.request_class(env))
    assert ours is not None and flasks is not None
    for field in ADAPTER_FIELDS:
        assert getattr(ours, field) == getattr(flasks, field), field
    assert outcome(ours) == outcome(flasks)


def test_a_host_idna_cannot_encode_is_a_bad_host(tmp_path: Path) -> None:
    app = build_legacy_app(tmp_path, "")
    with pytest.raises(BadHost):
        app.create_url_adapter(app.request_class(environ(HTTP_HOST="a..b")))


def test_drum_rules_have_their_names_under_the_prefix(tmp_path: Path) -> None:
    app = build_legacy_app(tmp_path, "/model/v1")
    with app.test_request_context("/model/v1/info/"):
        assert url_for("model_api.predict") == "/model/v1/predict/"
        assert url_for("model_api.ping") == "/model/v1/"
        assert url_for("model_api.forward_request", path="x/y") == "/model/v1/directAccess/x/y"

"""The Flask app ``custom_flask.py`` receives: shaped like real DRUM's.

It carries the ``model_api`` blueprint with DRUM's rules (under ``URL_PREFIX``),
so ``request.endpoint == "model_api.ping"`` holds in a hook and
``url_for("model_api.predict")`` builds.  DRUM's routes themselves are answered
by FastAPI; the views here only give the rules their names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import BadHost, HTTPException

from ...routes.route_table import BLUEPRINT, DRUM_RULES, prefixed
from .internals import LegacyFlask

__all__ = ["build_legacy_app", "LEGACY_APP_NAME"]

#: The app's import name, and so its logger's name (configured with drum_bridge.*).
LEGACY_APP_NAME = "drum_bridge.legacy_flask"


def _served_by_fastapi(**_: Any) -> Any:
    # FlaskHooksMiddleware sends every request for these rules to FastAPI; reaching
    # this view means that routing broke, and answering it would bypass nothing but
    # would be wrong, so fail loudly.
    raise RuntimeError("drum-bridge routing error: a DRUM route reached the legacy Flask app")


def _default_error(exc: Exception) -> Any:
    """The fallback error handler; the user's own handlers take precedence.

    On DRUM's routes it answers as DRUM's blueprint handler does,
    ``{"message": "ERROR: ..."}`` with 500, except that HTTP errors (``abort(403)``)
    keep their status: real DRUM answers those with 500 (see "Differences from
    DRUM" in the README).  Elsewhere HTTP errors get Flask's own pages, as in DRUM.
    """
    on_drum_route = BLUEPRINT in request.blueprints
    if isinstance(exc, BadHost):
        # No rule matched (the host is unreadable): answered as the FastAPI side answers it.
        return jsonify(message=f"ERROR: {exc}"), 400
    if isinstance(exc, HTTPException):
        if not on_drum_route or exc.code is None:
            return exc
        if exc.code == 400:
            return jsonify(error=exc.description), 400
        return jsonify(message=f"ERROR: {exc}"), exc.code
    return jsonify(message=f"ERROR: {exc}"), 500


def build_legacy_app(code_dir: Path, url_prefix: str) -> Flask:
    app = LegacyFlask(LEGACY_APP_NAME, root_path=str(code_dir))
    blueprint = Blueprint(BLUEPRINT, LEGACY_APP_NAME)
    for rule in DRUM_RULES:
        blueprint.add_url_rule(
            prefixed(url_prefix, rule.path),
            endpoint=rule.name,
            view_func=_served_by_fastapi,
            methods=list(rule.methods),
        )
    app.register_blueprint(blueprint)
    # App level, not on the blueprint, so that init_app's handlers (per code, per
    # class, or for Exception) take precedence, as the user expects.
    app.register_error_handler(Exception, _default_error)
    return app

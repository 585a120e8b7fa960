"""The Flask app ``custom_flask.py`` receives: shaped like real DRUM's.

It carries the ``model_api`` blueprint with DRUM's rules (under ``URL_PREFIX``),
so ``request.endpoint == "model_api.ping"`` holds in a hook and
``url_for("model_api.predict")`` builds.  DRUM's routes themselves are answered
by FastAPI; the views here only give the rules their names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify
from werkzeug.exceptions import HTTPException

from ..routes.table import BLUEPRINT, DRUM_RULES, prefixed

__all__ = ["build_legacy_app", "LEGACY_APP_NAME"]

#: The app's import name, and so its logger's name (configured with drum_bridge.*).
LEGACY_APP_NAME = "drum_bridge.legacy_flask"


def _served_by_fastapi(**_: Any) -> Any:
    # FlaskHooksMiddleware sends every request for these rules to FastAPI; reaching
    # this view means that routing broke, and answering it would bypass nothing but
    # would be wrong, so fail loudly.
    raise RuntimeError("drum-bridge routing error: a DRUM route reached the legacy Flask app")


def _drum_error(exc: Exception) -> Any:
    """DRUM's blueprint error handler, except that HTTP errors keep their status.

    Real DRUM answers ``abort(403)`` in a hook with 500; drum-bridge answers 403
    (see "Differences from DRUM" in the README).
    """
    if isinstance(exc, HTTPException) and exc.code is not None:
        if exc.code == 400:
            return jsonify(error=exc.description), 400
        return jsonify(message=f"ERROR: {exc}"), exc.code
    return jsonify(message=f"ERROR: {exc}"), 500


def _app_error(exc: Exception) -> Any:
    """Outside DRUM's routes: Flask's own pages for HTTP errors, DRUM's JSON for crashes."""
    if isinstance(exc, HTTPException):
        return exc
    return jsonify(message=f"ERROR: {exc}"), 500


def build_legacy_app(code_dir: Path, url_prefix: str) -> Flask:
    app = Flask(LEGACY_APP_NAME, root_path=str(code_dir))
    blueprint = Blueprint(BLUEPRINT, LEGACY_APP_NAME)
    for rule in DRUM_RULES:
        blueprint.add_url_rule(
            prefixed(url_prefix, rule.path),
            endpoint=rule.name,
            view_func=_served_by_fastapi,
            methods=list(rule.methods),
        )
    blueprint.register_error_handler(Exception, _drum_error)
    app.register_blueprint(blueprint)
    app.register_error_handler(Exception, _app_error)
    return app

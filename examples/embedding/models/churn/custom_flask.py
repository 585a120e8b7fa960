"""Only callers with the churn team's token reach this model (ping stays open)."""

import os

from flask import jsonify, request

TOKEN = os.environ.get("CHURN_TOKEN", "churn-demo-token")


def init_app(app):
    @app.before_request
    def check_token():
        if request.endpoint == "model_api.ping":
            return None
        if request.headers.get("X-Token") != TOKEN:
            return jsonify({"message": "ERROR: a valid X-Token header is required"}), 401
        return None

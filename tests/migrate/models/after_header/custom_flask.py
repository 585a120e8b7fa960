import os

from flask import request

MODEL_VERSION = os.environ.get("MODEL_VERSION", "v1")


def init_app(app):
    @app.before_request
    def only_known_clients():
        if request.method == "POST" and "X-Client" not in request.headers:
            return "Who are you?", 403

    @app.after_request
    def stamp(response):
        response.headers["X-Model-Version"] = MODEL_VERSION
        response.headers.add("X-Served-By", "drum")
        return response

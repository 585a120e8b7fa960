from flask import g, request


def init_app(app):
    @app.before_request
    def remember_caller():
        g.caller = request.headers.get("X-Caller", "anonymous")

    @app.after_request
    def name_caller(response):
        response.headers["X-Served-For"] = g.caller
        return response

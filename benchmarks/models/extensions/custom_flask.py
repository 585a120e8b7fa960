# ruff: noqa
# The migration guide's "Authentication Middleware" example, Flask version, verbatim
# (/work/shared/MIGRATION_GUIDE.md, section 1). run.py copies it into a code dir as custom_flask.py.
from flask import request, jsonify

def init_app(app):
    @app.before_request
    def check_auth():
        if request.endpoint == 'model_api.ping':
            return
        
        token = request.headers.get("X-Auth-Token")
        if token != "secret":
            return jsonify({"message": "Unauthorized"}), 401

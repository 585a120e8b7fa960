from flask_httpauth import HTTPTokenAuth

auth = HTTPTokenAuth(scheme="Bearer")
TOKENS = {"s3cret": "alice"}


@auth.verify_token
def verify(token):
    return TOKENS.get(token)


def init_app(app):
    @app.before_request
    @auth.login_required
    def require_token():
        pass

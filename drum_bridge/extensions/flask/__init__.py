"""Legacy ``custom_flask.py``: its Flask app, its hooks translated into ASGI, its a2wsgi mount.

``internals.py`` is the one module that uses Flask's private attributes or
overrides Flask's methods; every other module here uses public API only.
"""

"""``drum-bridge migrate``: custom_flask.py -> custom_fastapi.py, generated and then checked.

``reading`` finds what a custom_flask.py does (without running it) and says what
each piece becomes; ``writing`` generates the custom_fastapi.py; ``check`` serves
both files side by side and compares their answers; ``command`` is the CLI.
Generated files import ``drum_bridge.migrate.support`` only.
"""

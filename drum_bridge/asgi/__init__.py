"""Generic ASGI helpers that any layer may use: a scope's path, bodies, DRUM-shaped responses."""

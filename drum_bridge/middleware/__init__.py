"""Pure ASGI middleware of drum-bridge."""

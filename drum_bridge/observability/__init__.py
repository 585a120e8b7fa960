"""What operators watch: request ids in logs, JSON logs, Prometheus metrics, OpenTelemetry traces.

A leaf room: nothing here imports HTTP libraries or the rest of drum-bridge
(but ``errors`` and ``version``); the middleware, the runtime and the server
call into it.
"""

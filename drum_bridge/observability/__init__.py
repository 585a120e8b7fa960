"""What operators watch: request ids in logs, JSON logs, Prometheus metrics, OpenTelemetry traces.

Below the model runtime, above the settings: nothing here imports HTTP
libraries or the model; the middleware, the runtime and the server call into it.
"""

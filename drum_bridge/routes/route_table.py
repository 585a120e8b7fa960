"""DRUM's route table, the one list both the FastAPI side and the legacy Flask app use.

Real DRUM serves these rules from the Flask blueprint ``model_api`` under
``URL_PREFIX``; matching them with werkzeug (as Flask does) gives the same
answers for every spelling: 308 to the trailing-slash form, merged slashes,
405 with ``Allow``, automatic ``OPTIONS`` and ``HEAD``.
"""

from __future__ import annotations

from typing import NamedTuple

from werkzeug.routing import Map, Rule

__all__ = ["BLUEPRINT", "DrumRule", "DRUM_RULES", "build_map"]

BLUEPRINT = "model_api"


class DrumRule(NamedTuple):
    path: str
    #: The view name inside the blueprint: ``request.endpoint`` is ``model_api.<name>``.
    name: str
    methods: tuple[str, ...]


DRUM_RULES: tuple[DrumRule, ...] = (
    DrumRule("/", "ping", ("GET",)),
    DrumRule("/ping/", "ping", ("GET",)),
    DrumRule("/ping", "ping", ("GET",)),
    DrumRule("/health/", "health", ("GET",)),
    DrumRule("/info/", "info", ("GET",)),
    DrumRule("/capabilities/", "capabilities", ("GET",)),
    DrumRule("/stats/", "stats", ("GET",)),
    DrumRule("/predict/", "predict", ("POST",)),
    DrumRule("/predictions/", "predict", ("POST",)),
    DrumRule("/invocations", "predict", ("POST",)),
    DrumRule("/transform/", "transform", ("POST",)),
    DrumRule("/predictUnstructured/", "predict_unstructured", ("POST",)),
    DrumRule("/predictionsUnstructured/", "predict_unstructured", ("POST",)),
    DrumRule("/chat/completions", "chat", ("POST",)),
    DrumRule("/v1/chat/completions", "chat", ("POST",)),
    DrumRule("/models", "get_supported_llm_models", ("GET",)),
    DrumRule("/v1/models", "get_supported_llm_models", ("GET",)),
    DrumRule("/directAccess/<path:path>", "forward_request", ("GET", "POST", "PUT")),
    DrumRule("/nim/<path:path>", "forward_request", ("GET", "POST", "PUT")),
)


def prefixed(url_prefix: str, path: str) -> str:
    return f"{url_prefix}{path}" if url_prefix else path


def build_map(url_prefix: str, rules: tuple[DrumRule, ...] = DRUM_RULES) -> Map:
    """A werkzeug map of ``rules`` named ``model_api.<name>``, as Flask would build it."""
    return Map(
        [
            # Flask adds OPTIONS to every rule (its automatic answer); werkzeug adds HEAD to GET.
            Rule(
                prefixed(url_prefix, r.path),
                endpoint=f"{BLUEPRINT}.{r.name}",
                methods=(*r.methods, "OPTIONS"),
            )
            for r in rules
        ]
    )

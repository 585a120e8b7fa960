"""``create_app``: the order of the middleware stack, declared once in ``app.outer_layers``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Router

from drum_bridge import Config, TargetType, create_app
from drum_bridge.extensions.flask.hooks_middleware import FlaskHooksMiddleware
from drum_bridge.middleware.body_limit import BodyLimitMiddleware
from drum_bridge.middleware.drum_headers import DrumHeadersMiddleware
from drum_bridge.middleware.probes import ProbesMiddleware
from drum_bridge.middleware.request_headers import RequestHeadersMiddleware
from drum_bridge.middleware.request_metrics import RequestMetricsMiddleware
from drum_bridge.middleware.startup_error import StartupErrorMiddleware

USER_MIDDLEWARE = """
class UserMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

def init_app(app):
    app.add_middleware(UserMiddleware)
"""


def _chain(app: Any) -> list[str]:
    """The class names of the stack, outermost first, down to the router."""
    names = []
    node = app.build_middleware_stack()
    while not isinstance(node, Router):
        names.append(type(node).__name__)
        node = node.app
    return [*names, "Router"]


def _model_dir(tmp_path: Path, **files: str) -> Path:
    (tmp_path / "custom.py").write_text("def load_model(code_dir):\n    return object()\n"
                                        "def score(data, model, **kwargs):\n    return data\n")
    for name, source in files.items():
        (tmp_path / name).write_text(textwrap.dedent(source))
    return tmp_path


def test_the_stack_order_with_both_extensions(tmp_path: Path) -> None:
    code_dir = _model_dir(
        tmp_path, **{"custom_flask.py": "def init_app(app):\n    pass\n", "custom_fastapi.py": USER_MIDDLEWARE}
    )
    chain = _chain(create_app(Config(code_dir=code_dir, target_type=TargetType.REGRESSION,
                                     load_all_extensions=True)))

    ours = [DrumHeadersMiddleware, RequestMetricsMiddleware, StartupErrorMiddleware,
            RequestHeadersMiddleware, BodyLimitMiddleware, ProbesMiddleware, FlaskHooksMiddleware,
            ServerErrorMiddleware]
    assert chain[: len(ours)] == [cls.__name__ for cls in ours]
    # FastAPI's own layers between these may change with its releases; the order of these does not.
    inner = [name for name in chain if name in {"UserMiddleware", ExceptionMiddleware.__name__, "Router"}]
    assert inner == ["UserMiddleware", ExceptionMiddleware.__name__, "Router"]


def test_without_custom_flask_there_is_no_hooks_layer(tmp_path: Path) -> None:
    chain = _chain(create_app(Config(code_dir=_model_dir(tmp_path), target_type=TargetType.REGRESSION)))

    assert chain[:7] == [DrumHeadersMiddleware.__name__, RequestMetricsMiddleware.__name__,
                         StartupErrorMiddleware.__name__, RequestHeadersMiddleware.__name__,
                         BodyLimitMiddleware.__name__, ProbesMiddleware.__name__,
                         ServerErrorMiddleware.__name__]


def test_with_metrics_off_there_is_no_metrics_layer(tmp_path: Path) -> None:
    chain = _chain(create_app(Config(code_dir=_model_dir(tmp_path), target_type=TargetType.REGRESSION,
                                     metrics=False)))

    assert RequestMetricsMiddleware.__name__ not in chain
    assert ProbesMiddleware.__name__ in chain
    assert FlaskHooksMiddleware.__name__ not in chain

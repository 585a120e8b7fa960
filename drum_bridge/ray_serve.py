"""drum-bridge as a Ray Serve deployment: the app behind ``@serve.ingress``, one per replica.

``deployment(code_dir=..., target_type=..., **settings)`` (or ``deployment(config)``)
checks the settings where it is called, as ``create_app`` does, and returns a Ray Serve
application to run::

    from ray import serve
    import drum_bridge.ray_serve

    serve.run(drum_bridge.ray_serve.deployment(code_dir="model", target_type="regression",
                                               num_replicas=2), route_prefix="/churn")

Each replica builds its own app with ``create_app`` and Ray Serve runs the app's
lifespan: the model loads once per replica, before the replica takes requests, and is
released when the replica stops.  The whole DRUM API is served under the route prefix,
``custom_flask.py`` hooks and ``custom_fastapi.py`` routes included.

Ray is an optional extra (``pip install 'drum-bridge[ray]'``); this module imports it
only when a deployment is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .app import config_from_settings, create_app
from .config import Config, TargetType
from .errors import ConfigError

if TYPE_CHECKING:
    import os

    from ray.serve import Application
    from starlette.types import ASGIApp

__all__ = ["DEPLOYMENT_NAME", "deployment"]

DEPLOYMENT_NAME = "drum-bridge"
MISSING_RAY = (
    "drum_bridge.ray_serve needs Ray Serve, which is not installed:"
    " pip install 'drum-bridge[ray]' (or 'ray[serve]')"
)


class DrumReplica:
    """The deployment's class; ``@serve.ingress`` gives it the app, built on each replica."""


def _app_builder(config: Config) -> Callable[[], ASGIApp]:
    """What Ray Serve calls on each replica, once, for the app (then runs its lifespan)."""

    def build_app() -> ASGIApp:
        return create_app(config)

    return build_app


def deployment(
    config: Config | None = None,
    /,
    *,
    code_dir: str | os.PathLike[str] | None = None,
    target_type: TargetType | str | None = None,
    num_replicas: int | str | None = None,
    autoscaling_config: Mapping[str, Any] | None = None,
    deployment_options: Mapping[str, Any] | None = None,
    name: str = DEPLOYMENT_NAME,
    **settings: Any,
) -> Application:
    """A Ray Serve application serving the model in ``code_dir`` (or ``config``'s).

    ``settings`` are ``create_app``'s (``Config``'s field names).  ``num_replicas``
    defaults to ``max_workers`` (the number of serving processes the settings ask for)
    unless ``autoscaling_config`` (Ray Serve's: ``min_replicas``, ``max_replicas``,
    ``target_ongoing_requests``, ...) is given; ``num_replicas="auto"`` is Ray's default
    autoscaling.  A replica stopping waits ``graceful_timeout`` for its requests.
    ``deployment_options`` go to ``serve.deployment`` as they are (``ray_actor_options``,
    ``max_ongoing_requests``, ...).  ``ImportError`` when Ray Serve is not installed.

    The code dir must be readable at the same path on every node that runs a replica.
    """
    try:
        from ray import serve
    except ImportError as exc:
        raise ImportError(MISSING_RAY) from exc
    if config is None:
        if code_dir is None or target_type is None:
            raise TypeError("deployment() needs a Config, or code_dir and target_type")
        config = config_from_settings(code_dir, target_type, settings)
    elif settings or code_dir is not None or target_type is not None:
        raise TypeError("deployment() takes a Config or settings, not both")
    options: dict[str, Any] = {
        "name": name,
        "graceful_shutdown_timeout_s": config.graceful_timeout,
        **(deployment_options or {}),
    }
    if autoscaling_config is not None:
        if num_replicas is not None:
            raise ConfigError("Give num_replicas or autoscaling_config, not both")
        options["autoscaling_config"] = dict(autoscaling_config)
    else:
        options["num_replicas"] = config.max_workers if num_replicas is None else num_replicas
    ingress = serve.ingress(_app_builder(config))(DrumReplica)
    bound: Application = serve.deployment(**options)(ingress).bind()
    return bound

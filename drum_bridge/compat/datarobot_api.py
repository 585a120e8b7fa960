"""``--allow-dr-api-access``: the DataRobot Python client configured for model code.

As DRUM does, the ``datarobot`` package's global client gets the API token and the
web server's ``/api/v2`` endpoint before model code is imported, so that model code
calls ``datarobot`` without configuring it.  The package is not a dependency of
drum-bridge: ``pip install datarobot`` to use this.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from ..errors import ConfigError

__all__ = ["API_PACKAGE", "api_endpoint", "check_datarobot_api_access", "connect_datarobot_client"]

logger = logging.getLogger("drum_bridge.compat")

API_PACKAGE = "datarobot"


def api_endpoint(webserver: str) -> str:
    """DataRobot's API root for a web server URL, as DRUM builds it."""
    return webserver if webserver.endswith("api/v2") else f"{webserver}/api/v2"


def check_datarobot_api_access(webserver: str | None, api_token: str | None) -> None:
    """Refuse ``--allow-dr-api-access`` without what it needs, naming what is missing."""
    missing = [
        name
        for name, value in (("--webserver (or EXTERNAL_WEB_SERVER_URL)", webserver),
                            ("--api-token (or API_TOKEN)", api_token))
        if not value
    ]
    if missing:
        raise ConfigError(
            "DataRobot APIs access (--allow-dr-api-access) requires: " + ", ".join(missing)
        )
    if importlib.util.find_spec(API_PACKAGE) is None:
        raise ConfigError(
            "DataRobot APIs access (--allow-dr-api-access) needs the datarobot package:"
            " pip install datarobot"
        )


def connect_datarobot_client(webserver: str | None, api_token: str | None) -> None:
    """Configure the ``datarobot`` package's global client (once per process, as in DRUM)."""
    check_datarobot_api_access(webserver, api_token)
    assert webserver is not None
    endpoint = api_endpoint(webserver)
    logger.info("Initializing the DataRobot Python client for %s", endpoint)
    importlib.import_module(API_PACKAGE).Client(token=api_token, endpoint=endpoint)

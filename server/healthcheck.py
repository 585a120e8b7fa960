"""The image's HEALTHCHECK: exit 0 when the server on ``ADDRESS`` answers ``GET /livez`` 200.

``ADDRESS`` and ``URL_PREFIX`` are read as ``drum server`` reads them; a server bound to
every interface (``0.0.0.0``) is asked on 127.0.0.1.  Exit 1, with the reason on stdout
(``docker inspect`` shows it), when it does not answer 200 within ``TIMEOUT`` seconds.

The standard library only: Docker runs it every 30 s, and importing drum-bridge (and so
FastAPI, pandas, ...) would cost a second of CPU each time.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_ADDRESS = "0.0.0.0:8080"
#: ``drum server``'s port when ADDRESS has none.
DEFAULT_PORT = 8000
TIMEOUT = 3.0


def parse_address(address: str) -> tuple[str, int | None]:
    """``host[:port]``, as ``drum_bridge.config.sources.parse_address`` reads it."""
    if address.count(":") != 1:
        return address, None
    host, _, port = address.partition(":")
    if not port.isdigit():
        raise ValueError(f"Address {address!r} must be host[:port] with a numeric port")
    return host or "localhost", int(port)


def livez_url(environ: Mapping[str, str]) -> str:
    host, port = parse_address(environ.get("ADDRESS") or DEFAULT_ADDRESS)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    prefix = environ.get("URL_PREFIX", "").rstrip("/")
    return f"http://{host}:{port or DEFAULT_PORT}{prefix}/livez"


def main() -> int:
    try:
        url = livez_url(os.environ)
    except ValueError as exc:  # ADDRESS is not host[:port]
        print(exc)
        return 1
    # No proxy: HTTP_PROXY set for the model's own calls must not take the probe elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"GET {url}: {exc}")
        return 1
    if status != 200:
        print(f"GET {url}: {status}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

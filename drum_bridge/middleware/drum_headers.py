"""``DrumHeadersMiddleware``: DRUM's version and request-id headers, and drum-bridge's own
version, on every response."""

from __future__ import annotations

import random
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observability.request_context import REQUEST_ID
from ..version import DRUM_VERSION, __version__

__all__ = [
    "DrumHeadersMiddleware",
    "BRIDGE_VERSION_HEADER",
    "REQUEST_ID_HEADER",
    "VERSION_HEADER",
]

#: DRUM's exact spelling of the response header (underscores, not dashes).
REQUEST_ID_HEADER = b"X_Request_ID"
#: The DRUM release whose contract is served (clients gate features on it).
VERSION_HEADER = b"X-Drum-Version"
#: drum-bridge's own version.
BRIDGE_VERSION_HEADER = b"X-Drum-Bridge-Version"
_INCOMING_REQUEST_ID = b"x-request-id"
#: Headers of the app's own that these replace (ASGI header names are lowercase).
_REPLACED = frozenset(
    {REQUEST_ID_HEADER.lower(), VERSION_HEADER.lower(), BRIDGE_VERSION_HEADER.lower()}
)


class DrumHeadersMiddleware:
    """Outermost layer: it sees every response, hook answers and 404s included."""

    def __init__(
        self, app: ASGIApp, *, drum_version: str = DRUM_VERSION, bridge_version: str = __version__
    ) -> None:
        self.app = app
        self.drum_version = drum_version.encode("latin-1")
        self.bridge_version = bridge_version.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or _new_request_id()
        token = REQUEST_ID.set(request_id.decode("latin-1"))
        versions = [(VERSION_HEADER, self.drum_version), (BRIDGE_VERSION_HEADER, self.bridge_version)]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() not in _REPLACED
                ]
                headers.extend(versions)
                headers.append((REQUEST_ID_HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            REQUEST_ID.reset(token)


def _new_request_id() -> bytes:
    """A random version-4 UUID, as DRUM sends, from ``random`` (reseeded from the OS in every
    forked process) rather than ``uuid.uuid4``: its ``os.urandom`` is a syscall that lets go of
    the GIL on every request, which hands the event loop to a model thread for up to the GIL's
    switch interval.  An id is a label, not a secret."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4)).encode()


def _incoming_request_id(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == _INCOMING_REQUEST_ID and value:
            return bytes(value)
    return None

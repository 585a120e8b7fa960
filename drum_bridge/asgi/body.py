"""Reading a request body ahead of the app, and handing it on unchanged."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

__all__ = ["read_body", "replay_receive"]


def _may_have_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


async def read_body(scope: Scope, receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether the client disconnected before it ended."""
    if not _may_have_body(scope):
        return b"", False
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then the real ``receive`` (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

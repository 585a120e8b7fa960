"""``ThreadBody``: a request body that blocking code reads in a worker thread, on demand.

WSGI code (Flask hooks) reads the body as a file.  Reading the whole body
ahead of it would make the server hold a body that nobody may ever read (an
auth hook answering 401 to a 512 MB upload), so each read here asks the event
loop for the next chunk from the client, and only then.  What was read is
kept for whoever comes next (the route), which ``replay`` hands it to.

``prefetch`` reads the start of the body on the event loop before any hook
runs, up to a small bound (``PREFETCH``): a body that fits (most do) is then
read by hooks without a thread waiting on the client, and a client that
trickles its body holds no thread while it trickles.  No more than the bound
is ever read ahead of a hook that did not ask.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable

from starlette.types import Message, Receive, Scope

__all__ = ["PREFETCH", "ThreadBody", "may_have_body"]

#: Bytes of a body read on the event loop before the hooks run (what a socket buffers anyway).
PREFETCH = 64 * 1024


def may_have_body(scope: Scope) -> bool:
    """Whether the request announces a body (a non-zero Content-Length, or chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


class ThreadBody(io.RawIOBase):
    """The body of one request as a blocking, read-only file for worker threads.

    ``translate`` turns an exception from ``receive`` (a body over the limit) into
    the one its readers expect (Flask answers an HTTP error as its status).
    """

    def __init__(
        self,
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
        *,
        translate: Callable[[Exception], Exception] = lambda exc: exc,
    ) -> None:
        super().__init__()
        self._receive = receive
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._translate = translate
        self._pending = bytearray()
        self._received: list[bytes] = []
        self._more = True
        #: The client went away before the body ended.
        self.disconnected = False
        #: Once the route has the body, readers here get its end.
        self._handed_on = False
        #: ``receive`` failed while prefetching: raised to the first reader that needs more.
        self._failure: Exception | None = None

    def readable(self) -> bool:
        return True

    async def _next_message(self) -> Message:
        return await self._receive()

    @property
    def complete(self) -> bool:
        """The whole body has been read (or the client went away): reading never waits."""
        return not self._more and self._failure is None

    async def prefetch(self, limit: int = PREFETCH) -> None:
        """On the event loop: read the body until it ends, or ``limit`` bytes, or the client
        goes away; a failure of ``receive`` (a body over the limit) waits for a reader."""
        read = 0
        while self._more and read < limit:
            try:
                message = await self._receive()
            except Exception as exc:
                self._failure = exc
                return
            read += self._take(message)

    def _take(self, message: Message) -> int:
        if message["type"] == "http.disconnect":
            self._more = False
            self.disconnected = True
            return 0
        chunk: bytes = message.get("body", b"")
        self._more = bool(message.get("more_body", False))
        self._received.append(chunk)
        self._pending += chunk
        return len(chunk)

    def _pull(self) -> bool:
        """Ask the loop for the next message; False once the body has ended."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self._more = False
            raise self._translate(failure) from failure
        if not self._more or self._handed_on:
            return False
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("The request body is read from a worker thread, not the event loop")
        try:
            message = asyncio.run_coroutine_threadsafe(self._next_message(), self._loop).result()
        except Exception as exc:
            self._more = False
            raise self._translate(exc) from exc
        self._take(message)
        return not self.disconnected

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending and self._pull():
            pass
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        del self._pending[:size]
        return size

    def replay(self, receive: Receive) -> Receive:
        """A ``receive`` for the route: what was read here first, then the rest from ``receive``.

        From now on the route owns the body: reads here see its end.
        """
        self._handed_on = True
        chunks = self._received
        self._received = []
        self._pending = bytearray()
        more = self._more

        if not chunks and not more:
            chunks.append(b"")  # the body ended here: the route still gets its last message

        async def replayed() -> Message:
            if chunks:
                chunk = chunks.pop(0)
                return {"type": "http.request", "body": chunk, "more_body": bool(chunks) or more}
            return await receive()

        return replayed

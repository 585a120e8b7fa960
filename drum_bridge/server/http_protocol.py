"""uvicorn's HTTP protocol with the read limits it lacks: a header timeout, a body timeout,
and a header size counted while the headers arrive.

uvicorn waits for a client's headers and body without a bound: a client that
trickles them (slowloris) holds its connection for ever, and headers are held
whole before any limit is checked.  Here:

- ``--header-timeout``: a request's headers must arrive within it, from the
  connection's start or the request's first byte (a connection that sends
  nothing is closed at it; one that sent part of a request gets 408);
- ``--body-timeout``: a body that stops arriving for that long gets 408 and the
  connection is closed (the time the server itself stopped reading, while the
  app is busy, does not count);
- ``--max-header-size``: headers still arriving past it get 431 at once, so no
  more than the limit and one read (64 KiB) is ever held.

The waits are timers on the event loop: a slow client never holds a thread.
Only for uvicorn's httptools protocol (``drum server`` and ``server/gunicorn.conf.py``);
under another ASGI server its own settings apply, and drum-bridge's app still
answers 431 for headers over the limit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..observability.access_lines import shared_access_lines
from .worker_config import CONFIG_ENV, decode_config

__all__ = ["GuardedHttpToolsProtocol", "PROTOCOL"]

#: What uvicorn's ``http`` setting names (an import string: the Config travels to workers).
PROTOCOL = f"{__name__}:GuardedHttpToolsProtocol"

logger = logging.getLogger("drum_bridge.server")


#: Seconds a connection accepted just before shutdown has for its request to arrive.
_ARRIVAL_GRACE = 0.2


def _answer(status: bytes, message: str) -> bytes:
    body = ('{"message":"ERROR: ' + message + '"}').encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


@functools.cache
def _limits() -> tuple[float, float, int]:
    """This worker's limits, from the Config its server put in the environment."""
    raw = os.environ.get(CONFIG_ENV)
    if raw is None:
        return 0.0, 0.0, 0
    config = decode_config(raw)
    return config.header_timeout, config.body_timeout, config.max_header_size


class _TurnWrites:
    """A connection's transport whose writes of one event-loop turn go out together.

    uvicorn writes a response's head and body apart: two syscalls, two TCP segments for
    the client to read.  Kept until the end of the turn, they go out in one ``writelines``
    (one ``writev``, no copy).  ``close()`` writes what is kept first; everything else is
    the transport's own.
    """

    __slots__ = ("_transport", "_loop", "_kept")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._kept:
            self._loop.call_soon(self.write_kept)
        self._kept.append(data)

    def write_kept(self) -> None:
        kept, self._kept = self._kept, []
        if kept and not self._transport.is_closing():
            self._transport.writelines(kept)

    def close(self) -> None:
        self.write_kept()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with drum-bridge's read limits (``http=`` of uvicorn)."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        if self.access_log and (lines := shared_access_lines(self.access_logger)) is not None:
            self.access_logger = lines  # type: ignore[assignment]  # duck-typed: info() only
        self._header_timeout, self._body_timeout, self._max_header_size = _limits()
        self._read_timer: asyncio.TimerHandle | None = None
        #: Bytes of the request whose headers are arriving; None between requests.
        self._header_bytes: int | None = None
        self._body_expected = False
        #: The server shuts down (SIGTERM, --max-requests): serve what already came, then close.
        self._draining = False
        self._real_transport: asyncio.Transport | None = None

    # --- timers

    def _arm(self, seconds: float, on_timeout: Any) -> None:
        self._disarm()
        if seconds > 0:
            self._read_timer = self.loop.call_later(seconds, on_timeout)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _refuse(self, status: bytes, message: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            if self.cycle is not None:
                self.cycle.disconnected = True  # the app's answer, if any comes, is dropped
                self.cycle.message_event.set()
            self.transport.write(_answer(status, message))
        self.transport.close()

    def _headers_timed_out(self) -> None:
        self._read_timer = None
        if self._header_bytes is None:
            self.transport.close()  # nothing of a request came: just close
            return
        logger.info("%s: request headers not received within %g s; closing", self.client, self._header_timeout)
        self._refuse(b"408 Request Timeout", f"request headers not received within {self._header_timeout:g} s")

    def _body_timed_out(self) -> None:
        self._read_timer = None
        waiting = self.cycle is not None and self.cycle.waiting_for_100_continue
        if self.flow.read_paused or waiting:  # the server stopped reading, not the client sending
            self._arm(self._body_timeout, self._body_timed_out)
            return
        logger.info("%s: request body stalled for %g s; closing", self.client, self._body_timeout)
        self._refuse(b"408 Request Timeout", f"request body stalled for {self._body_timeout:g} s")

    # --- protocol events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._real_transport = transport
        self.transport = _TurnWrites(transport, self.loop)  # type: ignore[assignment]
        self._arm(self._header_timeout, self._headers_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_bytes is not None:
            self._header_bytes += len(data)
        super().data_received(data)
        if (
            self._max_header_size and self._header_bytes is not None
            and self._header_bytes > self._max_header_size and not self.transport.is_closing()
        ):
            # Every byte fed while the headers are still incomplete belongs to them.
            self._refuse(
                b"431 Request Header Fields Too Large",
                f"request headers are over the limit of {self._max_header_size} bytes"
                " (set by --max-header-size / DRUM_BRIDGE_MAX_HEADER_SIZE)",
            )

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over: it gets the transport itself.
        self.transport.write_kept()  # type: ignore[attr-defined]
        if self._real_transport is not None:
            self.transport = self._real_transport
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._read_timer is None:  # a connection's first request is timed from its start
            self._arm(self._header_timeout, self._headers_timed_out)

    def shutdown(self) -> None:
        """The server stops: a connection it accepted whose request has not been read yet
        gets a moment for it (uvicorn would close it, resetting a client that already sent).
        """
        if self.cycle is None and not self.transport.is_closing():
            self._draining = True
            self.loop.call_later(_ARRIVAL_GRACE, self._close_if_nothing_came)
            return
        super().shutdown()

    def _close_if_nothing_came(self) -> None:
        if self.cycle is None and self._header_bytes is None and not self.transport.is_closing():
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        self._disarm()
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed
        headers = dict(self.headers)
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        self._body_expected = chunked or headers.get(b"content-length", b"0").strip() not in (b"0", b"")
        if self._body_expected:
            self._arm(self._body_timeout, self._body_timed_out)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._body_expected:
            self._arm(self._body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        self._body_expected = False
        self._disarm()
        super().on_message_complete()

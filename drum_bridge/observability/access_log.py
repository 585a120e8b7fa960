"""The access log's handler: the lines of one event-loop turn go out in one write.

A write to a file or a pipe lets go of the GIL, and on a busy server the event
loop then waits for a model thread to hand it back (up to the GIL's switch
interval) once per line, i.e. once per request.  ``TurnBufferedStreamHandler``
formats each line when it is logged, keeps it, and writes every line of the
loop's turn together in the next turn (a ``call_soon``): under load many
responses share one write; an idle server writes each line at once, as before.
A line logged outside a running event loop is written at once.  ``flush()`` and
``close()`` (``logging.shutdown()`` at exit) write what is kept.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["TurnBufferedStreamHandler"]


class TurnBufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        #: Lines formatted, or (line, entry) formatted at the write.
        self._kept: list[str | tuple[Callable[[Any], str], Any]] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._write_kept()
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._keep(line, loop)

    def keep(self, line: Callable[[Any], str], entry: Any) -> None:
        """A line that ``line(entry)`` formats when the turn's lines are written, in its place
        among them (``access_lines``: on the event loop only)."""
        self._keep((line, entry), asyncio.get_running_loop())

    def _keep(self, item: str | tuple[Callable[[Any], str], Any], loop: asyncio.AbstractEventLoop) -> None:
        self._kept.append(item)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self.acquire()
        try:
            self._scheduled = False
            self._write_kept()
        finally:
            self.release()

    def _write_kept(self) -> None:
        if not self._kept:
            return
        kept, self._kept = self._kept, []
        text = "".join(item if isinstance(item, str) else self._formatted(*item) for item in kept)
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # as logging does: report on stderr, never raise into the server
            if logging.raiseExceptions:
                traceback.print_exc()

    def _formatted(self, line: Callable[[Any], str], entry: Any) -> str:
        try:
            return line(entry) + self.terminator
        except Exception:  # this line is lost, reported on stderr; the others are written
            if logging.raiseExceptions:
                traceback.print_exc()
            return ""

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_kept()
        finally:
            self.release()
        super().flush()

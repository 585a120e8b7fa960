"""A text stream that counts its writes: how many writes a log handler made."""

from __future__ import annotations

import io

__all__ = ["CountingStream"]


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

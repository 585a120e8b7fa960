"""Finding extension files in the code dir and choosing which of them load."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..code_dir import find_all
from ..config import Config, ExtensionStyle
from ..errors import ExtensionError

__all__ = ["FILE_NAMES", "ExtensionFiles", "find_extensions", "select_extensions"]

logger = logging.getLogger("drum_bridge.extensions")

FILE_NAMES = {ExtensionStyle.FASTAPI: "custom_fastapi.py", ExtensionStyle.FLASK: "custom_flask.py"}


@dataclass(frozen=True)
class ExtensionFiles:
    fastapi: Path | None = None
    flask: Path | None = None

    def get(self, style: ExtensionStyle) -> Path | None:
        return self.fastapi if style is ExtensionStyle.FASTAPI else self.flask


def _find_one(code_dir: Path, name: str) -> Path | None:
    found = find_all(code_dir, name)
    if len(found) > 1:
        listed = ", ".join(str(p) for p in found)
        raise ExtensionError(f"Found more than one {name} in the code dir; keep one: {listed}")
    return found[0] if found else None


def find_extensions(code_dir: Path) -> ExtensionFiles:
    return ExtensionFiles(
        fastapi=_find_one(code_dir, FILE_NAMES[ExtensionStyle.FASTAPI]),
        flask=_find_one(code_dir, FILE_NAMES[ExtensionStyle.FLASK]),
    )


def select_extensions(files: ExtensionFiles, config: Config) -> list[ExtensionStyle]:
    """The styles to load, Flask first (its hooks wrap everything else)."""
    present = [style for style in (ExtensionStyle.FLASK, ExtensionStyle.FASTAPI) if files.get(style)]
    if len(present) < 2 or config.load_all_extensions:
        return present
    preferred = config.server_type.preferred_extension
    for style in present:
        if style is not preferred:
            logger.info(
                "Skipping %s: server type %r prefers %s (set DRUM_BRIDGE_LOAD_ALL_EXTENSIONS=1 to load both)",
                files.get(style),
                config.server_type.value,
                FILE_NAMES[preferred],
            )
    return [preferred]

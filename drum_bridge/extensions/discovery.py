"""Finding extension files in the code dir and choosing which of them load."""

from __future__ import annotations

import logging
from pathlib import Path

from ..code_dir import find_all
from ..config import Config, ExtensionStyle
from ..errors import ExtensionError

__all__ = ["FILE_NAMES", "find_extensions", "select_extensions"]

logger = logging.getLogger("drum_bridge.extensions")

FILE_NAMES = {ExtensionStyle.FASTAPI: "custom_fastapi.py", ExtensionStyle.FLASK: "custom_flask.py"}


def _find_one(code_dir: Path, name: str) -> Path | None:
    found = find_all(code_dir, name)
    if len(found) > 1:
        listed = ", ".join(str(p) for p in found)
        raise ExtensionError(f"Found more than one {name} in the code dir; keep one: {listed}")
    return found[0] if found else None


def find_extensions(code_dir: Path) -> dict[ExtensionStyle, Path]:
    """The extension files of the code dir, by style (a style without a file is absent)."""
    found = {style: _find_one(code_dir, name) for style, name in FILE_NAMES.items()}
    return {style: path for style, path in found.items() if path is not None}


def select_extensions(
    files: dict[ExtensionStyle, Path], config: Config
) -> list[tuple[ExtensionStyle, Path]]:
    """The extensions to load, Flask first (its hooks wrap everything else)."""
    present = [
        (style, files[style]) for style in (ExtensionStyle.FLASK, ExtensionStyle.FASTAPI) if style in files
    ]
    if len(present) < 2 or config.load_all_extensions:
        return present
    preferred = config.server_type.preferred_extension
    for style, path in present:
        if style is not preferred:
            logger.info(
                "Skipping %s: server type %r prefers %s (set DRUM_BRIDGE_LOAD_ALL_EXTENSIONS=1 to load both)",
                path,
                config.server_type.value,
                FILE_NAMES[preferred],
            )
    return [(preferred, files[preferred])]

"""What the ``server/`` environment's tests share: its folder, this interpreter's scripts,
servers started as a user starts them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from support.server import ServerProcess

__all__ = ["BIN", "SERVER_DIR", "Launch", "Started", "user_env"]

#: The repository's ``server/`` folder.
SERVER_DIR = Path(__file__).resolve().parents[2] / "server"
#: Where this interpreter's console scripts are (``drum``, ``gunicorn``).
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Started(ServerProcess):
    stdout_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()


def user_env(**settings: str) -> dict[str, str]:
    """This environment with this interpreter's scripts first on PATH, as an activated venv,
    without settings a test did not ask for (``drum server`` reads many variables), plus
    ``settings``."""
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TMPDIR")}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env.update(settings)
    return env


Launch = Callable[[list[str], Mapping[str, str]], Started]

"""The model's code dir: finding its special files and importing them.

Both custom.py and the extension files are found anywhere below the code dir,
as DRUM finds them; hidden folders and installed packages are not searched.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["find_all", "import_file_as_module", "ensure_on_path"]

_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages"}


def find_all(code_dir: Path, name: str) -> list[Path]:
    """Every file called ``name`` below ``code_dir``, sorted."""
    return sorted(
        path
        for path in code_dir.rglob(name)
        if path.is_file()
        and not any(
            part.startswith(".") or part in _SKIPPED_DIRS
            for part in path.relative_to(code_dir).parts[:-1]
        )
    )


def ensure_on_path(folder: Path) -> None:
    """Let model code import its sibling modules by plain name, as under DRUM."""
    entry = str(folder.resolve())
    if entry not in sys.path:
        sys.path.insert(0, entry)


def import_file_as_module(path: Path, prefix: str) -> ModuleType:
    """Import ``path`` under a name unique to its location.

    Two apps in one process (mounted side by side) each get their own module
    object, even when both code dirs hold a ``custom.py``.  The module is
    registered in ``sys.modules`` so that pickling, dataclasses and
    ``typing.get_type_hints`` resolve names inside it.
    """
    name = f"{prefix}_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}", path=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module

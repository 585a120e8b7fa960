"""custom.py: import it from the code dir and expose its hooks."""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ModelLoadError

__all__ = ["CustomHooks", "load_custom_hooks", "import_file_as_module"]

logger = logging.getLogger("drum_bridge.model")

HOOK_NAMES = (
    "init",
    "load_model",
    "read_input_data",
    "transform",
    "score",
    "post_process",
    "score_unstructured",
    "chat",
    "get_supported_llm_models",
)


@dataclass(frozen=True)
class CustomHooks:
    """The hooks custom.py defines; a missing hook is ``None``."""

    init: Callable[..., Any] | None = None
    load_model: Callable[..., Any] | None = None
    read_input_data: Callable[..., Any] | None = None
    transform: Callable[..., Any] | None = None
    score: Callable[..., Any] | None = None
    post_process: Callable[..., Any] | None = None
    score_unstructured: Callable[..., Any] | None = None
    chat: Callable[..., Any] | None = None
    get_supported_llm_models: Callable[..., Any] | None = None

    def is_async(self, name: str) -> bool:
        return inspect.iscoroutinefunction(getattr(self, name))


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


def _ensure_on_path(code_dir: Path) -> None:
    # Model code imports its sibling modules by plain name, as under DRUM.
    entry = str(code_dir.resolve())
    if entry not in sys.path:
        sys.path.insert(0, entry)


def load_custom_hooks(code_dir: Path) -> CustomHooks:
    """Import ``custom.py`` from ``code_dir`` (if present) and collect its hooks."""
    path = code_dir / "custom.py"
    if not path.is_file():
        return CustomHooks()
    _ensure_on_path(code_dir)
    try:
        module = import_file_as_module(path, "drum_bridge_custom")
    except Exception as exc:
        raise ModelLoadError(f"Could not import {path}: {exc!r}") from exc
    found = {name: getattr(module, name) for name in HOOK_NAMES if callable(getattr(module, name, None))}
    logger.info("Loaded %s with hooks: %s", path, ", ".join(sorted(found)) or "none")
    return CustomHooks(**found)

"""custom.py: import it from the code dir and expose its hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..code_dir import ensure_on_path, find_all, import_file_as_module
from ..compat.datarobot_api import connect_datarobot_client
from ..compat.provide import provide_datarobot_drum
from ..config import Config
from ..errors import ModelLoadError
from .custom_task import CUSTOM_TASK_CLASS, UserSecrets, custom_task_hooks

__all__ = ["CustomHooks", "load_custom_hooks"]

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
    "liveness_probe",
    "readiness_probe",
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
    #: Called by ``/ping/`` and ``/health/``: ``{"message": ...}`` or ``(body, status)``.
    liveness_probe: Callable[..., Any] | None = None
    readiness_probe: Callable[..., Any] | None = None


def load_custom_hooks(code_dir: Path, config: Config | None = None) -> CustomHooks:
    """Import the ``custom.py`` found below ``code_dir`` (if any) and collect its hooks.

    Before model code runs, ``datarobot_drum`` is made importable (drum-bridge's stand-in
    when datarobot-drum is not installed) and, with ``--allow-dr-api-access``, the
    DataRobot client is configured.  ``config`` gives those settings and the user secrets.
    """
    provide_datarobot_drum()
    if config is not None and config.allow_dr_api_access:
        connect_datarobot_client(config.webserver, config.api_token)
    found = find_all(code_dir, "custom.py")
    if len(found) > 1:
        raise ModelLoadError(f"Found too many custom hook files: {found}")
    if not found:
        logger.info("No custom.py file detected in %s", code_dir)
        return CustomHooks()
    path = found[0]
    logger.info("Detected %s .. trying to load hooks", path)
    ensure_on_path(path.parent)
    ensure_on_path(code_dir)
    try:
        module = import_file_as_module(path, "drum_bridge_custom")
    except ImportError as exc:
        raise ModelLoadError(
            f"\n\nRunning environment language: Python.\nFailed loading hooks from [{path}] : {exc}"
        ) from exc
    task_class = getattr(module, CUSTOM_TASK_CLASS, None)
    if task_class is not None:
        return _custom_task(module, task_class, path, config)
    if config is not None and (config.user_secrets_mount_path or config.user_secrets_prefix):
        logger.warning("User secrets are given to custom tasks only (as in DRUM); %s has hooks", path)
    hooks = {name: getattr(module, name) for name in HOOK_NAMES if callable(getattr(module, name, None))}
    logger.info("Loaded %s with hooks: %s", path, ", ".join(sorted(hooks)) or "none")
    return CustomHooks(**hooks)


def _custom_task(module: ModuleType, task_class: Any, path: Path, config: Config | None) -> CustomHooks:
    secrets = UserSecrets(
        config.user_secrets_mount_path if config else None,
        config.user_secrets_prefix if config else None,
    )
    hooks = custom_task_hooks(task_class, custom_module=module, secrets=secrets)
    logger.info("Loaded %s with a custom task: %s", path, task_class.__qualname__)
    return CustomHooks(**hooks)

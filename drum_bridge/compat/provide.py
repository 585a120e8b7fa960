"""Making ``import datarobot_drum`` work in model code when datarobot-drum is not installed.

``provide_datarobot_drum()`` registers drum-bridge's stand-in (``compat/datarobot_drum``)
under the name ``datarobot_drum`` in ``sys.modules``, module by module, but only when no
real ``datarobot_drum`` can be imported: an installed datarobot-drum always wins.  It is
called before the code dir's files are imported; calling it again does nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import sys
from types import ModuleType

__all__ = ["PACKAGE", "provide_datarobot_drum", "providing_datarobot_drum"]

logger = logging.getLogger("drum_bridge.compat")

PACKAGE = "datarobot_drum"
_STAND_IN = f"{__package__}.datarobot_drum"


def providing_datarobot_drum() -> bool:
    """Whether ``datarobot_drum`` is drum-bridge's stand-in (rather than the real package)."""
    module = sys.modules.get(PACKAGE)
    return module is not None and module.__name__ == _STAND_IN


def _stand_in_modules() -> list[ModuleType]:
    package = importlib.import_module(_STAND_IN)
    modules = [package]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{_STAND_IN}."):
        modules.append(importlib.import_module(info.name))
    return modules


def provide_datarobot_drum() -> bool:
    """Provide the stand-in if ``datarobot_drum`` is not importable; True if it is provided."""
    if providing_datarobot_drum():
        return True
    if PACKAGE in sys.modules or importlib.util.find_spec(PACKAGE) is not None:
        logger.debug("datarobot_drum is installed: model code imports the real package")
        return False
    for module in _stand_in_modules():
        sys.modules[PACKAGE + module.__name__[len(_STAND_IN):]] = module
    logger.info(
        "datarobot-drum is not installed: model code imports drum-bridge's datarobot_drum"
        " (RuntimeParameters, CustomHTTPError, custom_task_interfaces)"
    )
    return True

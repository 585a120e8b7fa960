"""drum-bridge's stand-in for the ``datarobot_drum`` package, importable under that name when
datarobot-drum is not installed.

It provides what model code imports from DRUM at serving time: ``RuntimeParameters``,
``CustomHTTPError``, ``custom_task_interfaces`` (the custom task interfaces and user
secrets) and the module paths DataRobot's templates use for them.  Not provided: DRUM's
own machinery (``datarobot_drum.drum.*`` beyond ``exceptions`` and ``common``).
"""

from __future__ import annotations

from .drum.exceptions import CustomHTTPError
from .runtime_parameters import RuntimeParameters

__all__ = ["CustomHTTPError", "RuntimeParameters"]

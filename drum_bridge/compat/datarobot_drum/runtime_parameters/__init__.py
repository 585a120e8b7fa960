"""``datarobot_drum.runtime_parameters``: reading DataRobot runtime parameters."""

from __future__ import annotations

from .runtime_parameters import RuntimeParameters

__all__ = ["RuntimeParameters"]

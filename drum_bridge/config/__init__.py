"""Settings: the one frozen ``Config`` and where its values come from.

``settings`` holds ``Config`` and its enums; ``sources`` gathers a Config from
flags, environment, runtime parameters and ``model-metadata.yaml``.
"""

from __future__ import annotations

from .settings import COUNT_SETTINGS, Batching, Config, ExtensionStyle, ServerType, TargetType

__all__ = ["COUNT_SETTINGS", "Batching", "Config", "ExtensionStyle", "ServerType", "TargetType"]

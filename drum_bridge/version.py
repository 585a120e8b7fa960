"""Versions: drum-bridge's own, and the DRUM release whose contract it implements.

``__version__`` is read by setup.cfg and reported as ``drumBridgeVersion`` and
``X-Drum-Bridge-Version``.  ``DRUM_VERSION`` is what ``/info/`` ``drumVersion``
and ``X-Drum-Version`` say: clients (and DataRobot's own test suite) read those
as a DRUM release and gate features on it.
"""

from __future__ import annotations

__all__ = ["__version__", "DRUM_VERSION"]

__version__ = "0.1.0"

#: The datarobot-drum release whose `drum server` contract drum-bridge implements.
DRUM_VERSION = "1.18.1"

"""Compatibility with model code and settings written for DataRobot's DRUM.

``datarobot_drum/`` is what drum-bridge provides under the name ``datarobot_drum``
when datarobot-drum is not installed (``provide.provide_datarobot_drum``);
``drum_settings`` lists every setting of ``drum server`` 1.18.1 and its fate here.
"""

from __future__ import annotations

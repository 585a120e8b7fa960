from __future__ import annotations

import drum_bridge

EXPECTED_PUBLIC_NAMES = {
    "__version__",
    "AppSettings",
    "Batching",
    "Config",
    "ConfigError",
    "CustomHTTPError",
    "DrumApp",
    "DrumBridgeError",
    "DrumHTTPError",
    "ExtensionError",
    "ModelLoadError",
    "PredictionError",
    "ServerType",
    "TargetType",
    "UnprocessableEntityError",
    "create_app",
}


def test_every_exported_name_exists() -> None:
    missing = [name for name in drum_bridge.__all__ if not hasattr(drum_bridge, name)]
    assert missing == []


def test_exported_names_are_pinned() -> None:
    assert len(drum_bridge.__all__) == len(set(drum_bridge.__all__))
    assert set(drum_bridge.__all__) == EXPECTED_PUBLIC_NAMES

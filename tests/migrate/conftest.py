"""Model dirs for the migration assistant: a small regression model plus one custom_flask.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.model_dirs import fitted_regressor, write_pickle

MODELS = Path(__file__).parent / "models"
GUIDE = Path(__file__).parent.parent / "extensions" / "guide"
#: Every example that must migrate with zero differences: the migration guide's two Flask
#: examples (verbatim, in tests/extensions/guide), a flask-httpauth token hook, a flask-cors
#: setup, and hooks setting response headers.
ALIKE = {
    "guide_auth": GUIDE / "flask_auth.py",
    "guide_route": GUIDE / "flask_route.py",
    "httpauth_token": MODELS / "httpauth_token" / "custom_flask.py",
    "flask_cors": MODELS / "flask_cors" / "custom_flask.py",
    "after_header": MODELS / "after_header" / "custom_flask.py",
}
UNTRANSLATABLE = MODELS / "untranslatable" / "custom_flask.py"

MakeModel = Callable[[Path], Path]


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    """``make_model(custom_flask_source_path)``: a fresh code dir with that custom_flask.py."""

    def make(source: Path) -> Path:
        code_dir = tmp_path / f"model{len(list(tmp_path.iterdir()))}"
        write_pickle(code_dir, fitted_regressor())
        shutil.copy(source, code_dir / "custom_flask.py")
        return code_dir

    return make

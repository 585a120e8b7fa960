"""Model code dirs written by tests: a ``custom.py``, a pickled scikit-learn model."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.linear_model import LinearRegression

__all__ = ["SAMPLES_CSV", "SLEEPY_MODEL", "X_AUTH_HOOK", "fitted_regressor", "write_custom_py", "write_pickle"]

#: Two rows of the two features ``fitted_regressor`` knows.
SAMPLES_CSV = b"a,b\n1,2\n3,4\n"
#: A custom_flask.py whose before_request hook answers 401 without ``X-Auth: t0k3n``
#: (``/ping/`` excepted).
X_AUTH_HOOK = """
from flask import jsonify, request

def init_app(app):
    @app.before_request
    def check_auth():
        if request.endpoint != "model_api.ping" and request.headers.get("X-Auth") != "t0k3n":
            return jsonify(message="Unauthorized"), 401
"""
#: A custom.py whose score() sleeps as many seconds as column ``sleep`` says, after writing
#: ``started`` into the code dir (so a test knows the call runs).
SLEEPY_MODEL = """
import time
from pathlib import Path

import pandas as pd


def load_model(code_dir):
    return Path(code_dir)


def score(data, model, **kwargs):
    seconds = float(data["sleep"].iloc[0])
    (model / "started").write_text(str(seconds))
    time.sleep(seconds)
    return pd.DataFrame({"Predictions": [seconds] * len(data)})
"""


def write_custom_py(code_dir: Path, source: str) -> Path:
    """``code_dir`` holding a ``custom.py`` with ``source`` (dedented)."""
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / "custom.py").write_text(textwrap.dedent(source))
    return code_dir


def write_pickle(code_dir: Path, model: Any, name: str = "model.pkl") -> Path:
    """``code_dir`` holding ``model`` pickled as the artifact ``name``."""
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / name).write_bytes(pickle.dumps(model))
    return code_dir


class LargerCallsRoundOtherwise(LinearRegression):
    """Answers 1e-6 more for every row of a call on more than 3 rows: a stand-in, the same on
    every machine, for BLAS rounding a row's last bit otherwise in a larger call."""

    def predict(self, X: Any) -> Any:  # noqa: N803 (scikit-learn's name)
        return super().predict(X) + (1e-6 if len(X) > 3 else 0.0)


def batch_sensitive_regressor() -> LargerCallsRoundOtherwise:
    """``fitted_regressor``'s fit, answering otherwise in calls of more than 3 rows."""
    features = pd.DataFrame({"a": [0.0, 1.0, 0.0, 2.0], "b": [0.0, 0.0, 1.0, 1.0]})
    model = LargerCallsRoundOtherwise().fit(features, features.a + 2 * features.b)
    return model


def fitted_regressor(*, feature_names: bool = True) -> LinearRegression:
    """y = a + 2b, fitted with feature names ``a`` and ``b``, or on a bare array without."""
    features = pd.DataFrame({"a": [0.0, 1.0, 0.0, 2.0], "b": [0.0, 0.0, 1.0, 1.0]})
    target = features.a + 2 * features.b
    return LinearRegression().fit(features if feature_names else features.to_numpy(), target)

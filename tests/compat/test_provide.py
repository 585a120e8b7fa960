"""``datarobot_drum`` for model code: drum-bridge's stand-in when datarobot-drum is not
installed, and never in place of an installed one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import predict
from support.model_dirs import write_custom_py
from support.scoring import serve

from drum_bridge.compat.provide import provide_datarobot_drum, providing_datarobot_drum


def _datarobot_drum_modules() -> dict[str, object]:
    return {name: m for name, m in sys.modules.items() if name.split(".")[0] == "datarobot_drum"}


@pytest.fixture
def no_datarobot_drum() -> Iterator[None]:
    """A process where nothing has imported ``datarobot_drum`` yet (restored afterwards)."""
    before = _datarobot_drum_modules()
    for name in before:
        del sys.modules[name]
    yield
    for name in _datarobot_drum_modules():
        del sys.modules[name]
    sys.modules.update(before)  # type: ignore[arg-type]


def test_the_stand_in_is_provided_when_datarobot_drum_is_not_installed(no_datarobot_drum: None) -> None:
    assert provide_datarobot_drum() is True

    from datarobot_drum import CustomHTTPError, RuntimeParameters
    from datarobot_drum.custom_task_interfaces import (
        RegressionEstimatorInterface,
        TransformerInterface,
    )
    from datarobot_drum.drum.common import get_drum_logger
    from datarobot_drum.drum.exceptions import CustomHTTPError as FromExceptions
    from datarobot_drum.runtime_parameters.runtime_parameters import RuntimeParameters as Deep

    assert providing_datarobot_drum()
    assert (FromExceptions, Deep) == (CustomHTTPError, RuntimeParameters)
    assert issubclass(RegressionEstimatorInterface, TransformerInterface.__mro__[1])
    assert get_drum_logger("task").name == "drum.task"
    assert provide_datarobot_drum() is True  # a second call changes nothing


def test_what_the_stand_in_does_not_provide_fails_to_import_by_its_name(no_datarobot_drum: None) -> None:
    provide_datarobot_drum()
    with pytest.raises(ModuleNotFoundError, match="No module named 'datarobot_drum.drum.enum'"):
        import datarobot_drum.drum.enum  # noqa: F401


def test_an_installed_datarobot_drum_wins(
    no_datarobot_drum: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "site" / "datarobot_drum"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("WHICH = 'the installed one'\nclass RuntimeParameters: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    assert provide_datarobot_drum() is False

    import datarobot_drum

    assert datarobot_drum.WHICH == "the installed one"
    assert not providing_datarobot_drum()


def test_model_code_imports_datarobot_drum_names(
    no_datarobot_drum: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_RUNTIME_PARAM_WEIGHT", '{"type": "numeric", "payload": 10}')
    code_dir = write_custom_py(tmp_path / "model", """\
import pandas as pd
from datarobot_drum import RuntimeParameters


def load_model(code_dir):
    return RuntimeParameters.get("WEIGHT")


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": data.a * model})
""")
    with serve(code_dir) as client:
        response = predict(client)

    assert response.json() == {"predictions": [10.0, 30.0]}


@pytest.mark.parametrize("module", ["datarobot_drum", "datarobot_drum.drum.exceptions"])
@pytest.mark.parametrize("status", [None, 418])
def test_datarobot_drum_s_custom_http_error_is_answered_as_drum(
    tmp_path: Path, module: str, status: int | None
) -> None:
    raised = "CustomHTTPError('teapot')" if status is None else f"CustomHTTPError('teapot', {status})"
    code_dir = write_custom_py(tmp_path / "model", f"""\
from {module} import CustomHTTPError


def load_model(code_dir):
    return "model"


def score(data, model, **kwargs):
    raise {raised}
""")
    with serve(code_dir) as client:
        response = predict(client)

    assert (response.status_code, response.json()) == (status or 400, {"message": "teapot"})
    assert response.headers["x-drum-user-http-error"] == "true"


def test_datarobot_drum_s_custom_http_error_is_drum_bridge_s() -> None:
    import drum_bridge

    provide_datarobot_drum()
    from datarobot_drum import CustomHTTPError

    error = CustomHTTPError("gone", 410)
    assert isinstance(error, drum_bridge.CustomHTTPError)
    assert (str(error), error.status_code) == ("gone", 410)


def test_extension_files_import_datarobot_drum_names_too(
    no_datarobot_drum: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_RUNTIME_PARAM_GREETING", '{"type": "string", "payload": "hi"}')
    code_dir = write_custom_py(tmp_path / "model", """\
import pandas as pd


def load_model(code_dir):
    return "model"


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": 0.0}, index=data.index)
""")
    (code_dir / "custom_fastapi.py").write_text("""\
from datarobot_drum import RuntimeParameters

GREETING = RuntimeParameters.get("GREETING")


def init_app(app):
    @app.get("/greeting")
    def greeting():
        return {"greeting": GREETING}
""")
    with serve(code_dir) as client:
        response = client.get("/greeting")

    assert response.json() == {"greeting": "hi"}

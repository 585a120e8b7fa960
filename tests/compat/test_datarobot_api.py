"""``--allow-dr-api-access``: the ``datarobot`` package's client configured for model code
before custom.py is imported, as DRUM does (here with a stand-in ``datarobot`` package)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.app import predict
from support.model_dirs import write_custom_py
from support.scoring import serve

from drum_bridge.compat.datarobot_api import api_endpoint, check_datarobot_api_access
from drum_bridge.errors import ConfigError


@pytest.fixture
def datarobot_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / "datarobot"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("CLIENTS = []\n\ndef Client(**kwargs):\n    CLIENTS.append(kwargs)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(__import__("sys").modules, "datarobot", raising=False)


def test_model_code_finds_the_client_configured(tmp_path: Path, datarobot_package: None) -> None:
    code_dir = write_custom_py(tmp_path / "model", """\
import json

import datarobot
import pandas as pd

SEEN_AT_IMPORT = json.dumps(datarobot.CLIENTS)


def load_model(code_dir):
    return "model"


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": 0.0, "clients": SEEN_AT_IMPORT}, index=data.index)
""")
    argv = ("--allow-dr-api-access", "--webserver", "https://dr.example", "--api-token", "tok")
    with serve(code_dir, "regression", *argv) as client:
        response = predict(client)

    clients = response.json()["extraModelOutput"]["data"][0][0]
    assert clients == '[{"token": "tok", "endpoint": "https://dr.example/api/v2"}]'


@pytest.mark.parametrize(
    ("webserver", "endpoint"),
    [("https://dr", "https://dr/api/v2"), ("https://dr/api/v2", "https://dr/api/v2")],
)
def test_the_endpoint_is_drum_s(webserver: str, endpoint: str) -> None:
    assert api_endpoint(webserver) == endpoint


def test_api_access_without_webserver_and_token_names_both() -> None:
    with pytest.raises(ConfigError) as raised:
        check_datarobot_api_access(None, None)
    assert str(raised.value) == (
        "DataRobot APIs access (--allow-dr-api-access) requires: --webserver (or"
        " EXTERNAL_WEB_SERVER_URL), --api-token (or API_TOKEN)"
    )

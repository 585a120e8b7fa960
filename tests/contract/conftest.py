"""The app of a recorded scenario, built as ``drum server`` builds it, shared by a module's cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from support.app import drum_client, server_config
from support.contract import load_scenario


@pytest.fixture(scope="module")
def scenario_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    scenario = load_scenario(request.param)
    config = server_config(
        scenario.code_dir, scenario.target_type, *scenario.args, environ=scenario.env
    )
    with drum_client(config) as client:
        yield client

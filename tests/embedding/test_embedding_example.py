"""``examples/embedding/host.py``, the README's host example, served as the README says."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

HOST = Path(__file__).parents[2] / "examples" / "embedding" / "host.py"
CHURN_CSV = b"calls,tenure\n5,2\n0,40\n"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("embedding_example_host", HOST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("CHURN_TOKEN", raising=False)
    with TestClient(_load_example().app, follow_redirects=False) as client:
        yield client


def test_the_host_serves_its_route_and_both_models(client: TestClient) -> None:
    churn = client.post("/models/churn/predict/", content=CHURN_CSV,
                        headers={"Content-Type": "text/csv", "X-Token": "churn-demo-token"})
    price = client.post("/models/price/predict/", content=b"m2\n70\n", headers={"Content-Type": "text/csv"})

    assert client.get("/status").json() == {"status": "ok"}
    assert churn.status_code == 200
    first, second = churn.json()["predictions"]
    assert first["yes"] > 0.9 and second["no"] > 0.9
    assert price.json() == {"predictions": [260000.0]}
    assert client.get("/models/price/explain").json() == {"formula": "50000 + 3000 * m2"}


def test_the_churn_token_guards_churn_only(client: TestClient) -> None:
    denied = client.post("/models/churn/predict/", content=CHURN_CSV, headers={"Content-Type": "text/csv"})
    assert denied.status_code == 401
    assert client.get("/models/churn/ping/").status_code == 200
    assert client.get("/models/price/info/").json()["targetType"] == "regression"

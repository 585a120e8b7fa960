"""Model dirs for extension tests: a small regression model plus extension files."""

from __future__ import annotations

import pickle
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LinearRegression

from drum_bridge import Config, TargetType, create_app

GUIDE = Path(__file__).parent / "guide"
CSV = b"a,b\n1.0,2.0\n3.0,4.0\n"

MakeDir = Callable[..., Path]


@pytest.fixture(scope="session")
def model_pickle() -> bytes:
    x = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2})
    return pickle.dumps(LinearRegression().fit(x, 2 * x.a + 1))


@pytest.fixture
def make_model_dir(tmp_path: Path, model_pickle: bytes) -> MakeDir:
    """``make_model_dir(**{"custom_flask.py": source})``: a model dir with those files."""

    def make(**files: str) -> Path:
        code_dir = tmp_path / f"model{len(list(tmp_path.iterdir()))}"
        code_dir.mkdir()
        (code_dir / "model.pkl").write_bytes(model_pickle)
        for name, source in files.items():
            path = code_dir / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return code_dir

    return make


def config_for(code_dir: Path, **settings: object) -> Config:
    return Config(code_dir=code_dir, target_type=TargetType.REGRESSION, **settings)  # type: ignore[arg-type]


@pytest.fixture
def serve(make_model_dir: MakeDir) -> Iterator[Callable[..., TestClient]]:
    """``serve(files={...}, **config)``: a started TestClient for a model dir with ``files``."""
    clients: list[TestClient] = []

    def start(
        files: dict[str, str] | None = None, *, raise_server_exceptions: bool = True, **settings: object
    ) -> TestClient:
        app = create_app(config_for(make_model_dir(**(files or {})), **settings))
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def guide_file(name: str) -> str:
    return (GUIDE / name).read_text()

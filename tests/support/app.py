"""Building drum-bridge apps the way ``drum server`` does, and clients for them."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from starlette.testclient import TestClient

from drum_bridge import Config, create_app
from drum_bridge.cli import build_parser
from drum_bridge.config.sources import config_from_args

from .model_dirs import SAMPLES_CSV

__all__ = [
    "ADDRESS",
    "ClientResponse",
    "drum_client",
    "gather",
    "parse_server_args",
    "predict",
    "server_config",
]

ADDRESS = "127.0.0.1:8080"


class ClientResponse(Protocol):
    """What the tests read of a response: ``TestClient`` answers with httpx2's class when
    that is installed, a live server's client with httpx's."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def parse_server_args(*argv: str) -> argparse.Namespace:
    """``drum server ARGV`` as the CLI parses it."""
    return build_parser().parse_args(["server", *argv])


def gather(code_dir: Path, *argv: str, environ: Mapping[str, str] | None = None) -> Config:
    """The Config for ``drum server --code-dir CODE_DIR --address ... ARGV`` in ``environ``."""
    args = parse_server_args("--code-dir", str(code_dir), "--address", ADDRESS, *argv)
    return config_from_args(args, environ=environ or {})


def server_config(
    code_dir: Path, target_type: str, *args: str, environ: Mapping[str, str] | None = None
) -> Config:
    """The Config ``drum server --code-dir ... --target-type ... ARGS`` builds in ``environ``."""
    parsed = parse_server_args(
        "--code-dir", str(code_dir), "--address", ADDRESS, "--target-type", target_type, *args
    )
    return config_from_args(parsed, environ=environ or {})


@contextmanager
def drum_client(config: Config) -> Iterator[TestClient]:
    """A client of ``create_app(config)`` with its lifespan run, as an HTTP client sees it:
    server errors are answers, redirects are not followed."""
    app = create_app(config)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def predict(client: TestClient, csv: bytes = SAMPLES_CSV) -> ClientResponse:
    """``POST /predict/`` with ``csv`` as a raw ``text/csv`` body."""
    return client.post("/predict/", content=csv, headers={"Content-Type": "text/csv"})

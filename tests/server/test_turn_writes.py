"""The server's connections write a response's head and body together (one ``writev``), close
only after what was written, and hand the transport itself over on a WebSocket upgrade."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
import websockets.sync.client
from support.model_dirs import write_custom_py
from support.raw_http import port_of
from support.server import run_server

from drum_bridge.server.http_protocol import _TurnWrites

ECHO_SOCKET = """
from fastapi import WebSocket


def init_app(app):
    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_text("echo: " + await websocket.receive_text())
"""

MODEL = """
import pandas as pd


def load_model(code_dir):
    return "m"


def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": [1.5] * len(data)})
"""


class FakeTransport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def writelines(self, data: list[bytes]) -> None:
        self.calls.append(("writelines", list(data)))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def test_the_writes_of_one_turn_go_out_together_and_close_comes_after_them() -> None:
    async def serve() -> list[tuple[str, Any]]:
        transport = FakeTransport()
        writes = _TurnWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        writes.write(b"HTTP/1.1 200 OK\r\n\r\n")
        writes.write(b"")
        writes.write(b"body")
        assert transport.calls == []  # nothing before the turn ends
        await asyncio.sleep(0)
        writes.write(b"next turn")
        writes.close()
        writes.write(b"after close")
        await asyncio.sleep(0)
        assert writes.get_extra_info("peername") == "extra peername"
        return transport.calls

    assert asyncio.run(serve()) == [
        ("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"body"]),
        ("writelines", [b"next turn"]),
        ("close", None),
    ]


@pytest.fixture
def served(tmp_path: Path) -> Any:
    code_dir = write_custom_py(tmp_path / "model", MODEL)
    (code_dir / "custom_fastapi.py").write_text(ECHO_SOCKET)
    with run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression") as server:
        assert server.first_answer().status_code == 200
        yield server


@pytest.mark.server
def test_a_response_arrives_whole_in_one_read(served: Any) -> None:
    with socket.create_connection(("127.0.0.1", port_of(served)), timeout=30) as client:
        client.sendall(b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                       b"Content-Length: 6\r\n\r\nx\n1\n2\n")
        data = client.recv(65536)  # one segment: head and body together
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b'{"predictions":[1.5,1.5]}'


@pytest.mark.server
def test_a_websocket_upgrade_gets_the_connection(served: Any) -> None:
    with websockets.sync.client.connect(f"ws://127.0.0.1:{port_of(served)}/echo", open_timeout=30) as ws:
        for text in ("one", "two"):
            ws.send(text)
            assert ws.recv(timeout=30) == f"echo: {text}"

"""The app under other ASGI servers, as a user serves it: a module of theirs builds it with
``create_app``, and hypercorn or granian (a subprocess on a free port) serves that module.
The server runs the lifespan (the model loads once, before the first request), answers
``/ping/``, ``/predict/`` and a chat stream, and exits 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from support.chat_model import CHAT_MODEL, PROMPTS_CSV, TARGET_NAME, chat_words, stream_chat
from support.model_dirs import write_custom_py
from support.server import ServerProcess, free_port, wait_for

pytest.importorskip("openai")

#: What a user writes to serve a model with a server of their choice.
SERVE_MODULE = f"""\
import drum_bridge

app = drum_bridge.create_app(code_dir="model", target_type="textgeneration",
                             target_name={TARGET_NAME!r})
"""


def hypercorn_command(port: int) -> list[str]:
    return [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "serve_model:app"]


def granian_command(port: int) -> list[str]:
    return [sys.executable, "-m", "granian", "--interface", "asgi",
            "--host", "127.0.0.1", "--port", str(port), "serve_model:app"]


SERVERS = [
    pytest.param("hypercorn", hypercorn_command, id="hypercorn"),
    pytest.param("granian", granian_command, id="granian"),
]


@contextmanager
def serving(workdir: Path, command: list[str], port: int) -> Iterator[ServerProcess]:
    """``command`` run in ``workdir`` in a session of its own, killed with its workers at exit."""
    stderr_path = workdir / "server.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=workdir, stdout=stderr, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield ServerProcess(process, f"http://127.0.0.1:{port}", stderr_path)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


@pytest.mark.server
@pytest.mark.timeout(90)
@pytest.mark.parametrize(("module", "command"), SERVERS)
def test_served_by_another_server(tmp_path: Path, module: str,
                                  command: Callable[[int], list[str]]) -> None:
    pytest.importorskip(module)
    code_dir = write_custom_py(tmp_path / "model", CHAT_MODEL)
    (tmp_path / "serve_model.py").write_text(SERVE_MODULE)
    port = free_port()

    with serving(tmp_path, command(port), port) as server:
        ping = server.first_answer("/ping/", timeout=60)
        loaded_before_first_request = (code_dir / "loads").exists()
        with httpx.Client(base_url=server.base_url, timeout=20) as client:
            predict = client.post("/predict/", content=PROMPTS_CSV,
                                  headers={"Content-Type": "text/csv"})
            stream = stream_chat(client, "/v1/chat/completions", "one two three")
            info = client.get("/info/")
        status = server.terminate(timeout=30)

        assert ping.json() == {"message": "OK"}
        assert loaded_before_first_request, "the server did not run the app's lifespan"
        assert predict.status_code == 200, predict.text
        pid = predict.json()["predictions"][0].split(":")[0]
        assert predict.json() == {"predictions": [f"{pid}:hello", f"{pid}:world"]}
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert chat_words(stream) == ["one", "two", "three"]
        assert info.json()["targetType"] == "textgeneration"
        assert (code_dir / "loads").read_text().split() == [pid]
        assert status == 0, server.stderr
        assert "Traceback" not in server.stderr, server.stderr
        # multiprocessing's resource tracker (hypercorn spawns its worker) leaves just after.
        wait_for(lambda: server.group_is_gone() or None, "the server's workers to exit", 10)

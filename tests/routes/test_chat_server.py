"""The official ``openai`` client against the real ``drum server`` (a subprocess on a free
port): chat, streaming chat (sent as produced, failures raised), ``models.list()``, with a
base URL ending in ``/v1`` and without; and a client whose socket closes mid-stream stops
the model's generator."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.model_dirs import write_custom_py
from support.server import ServerProcess, run_server, wait_for

openai = pytest.importorskip("openai")

MODEL = """\
import threading
import time
from pathlib import Path

from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice, ChoiceDelta

HERE = Path(__file__).parent


def load_model(code_dir):
    return "served"


def get_supported_llm_models(model):
    return [Model(id="served-llm", created=3, object="model", owned_by="tests")]


def chunk(content, finish=None):
    return ChatCompletionChunk(id="s", created=1, model="m", object="chat.completion.chunk",
                               choices=[ChunkChoice(index=0, delta=ChoiceDelta(content=content),
                                                    finish_reason=finish)])


def chat(completion_create_params, model, headers):
    text = completion_create_params["messages"][-1]["content"]
    if not completion_create_params.get("stream"):
        return ChatCompletion(id="c", created=1, model=completion_create_params["model"],
                              object="chat.completion",
                              choices=[Choice(index=0, finish_reason="stop",
                                              message=ChatCompletionMessage(role="assistant",
                                                                            content=text[::-1]))])

    def slow():
        for i in range(3):
            if i:
                time.sleep(0.2)
            yield chunk(repr(time.monotonic()))

    def failing():
        yield chunk("one")
        raise RuntimeError("the stream broke")

    def endless():
        try:
            while True:
                yield chunk("tick")
                time.sleep(0.02)
        finally:
            (HERE / "closed").write_text(threading.current_thread().name)

    return {"slow": slow, "failing": failing, "endless": endless}[text]()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("chat-server")
    code_dir = write_custom_py(workdir / "model", MODEL)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TARGET_NAME", "completion")
        with run_server(workdir, "--code-dir", str(code_dir), "--target-type", "textgeneration") as server:
            assert server.first_answer().status_code == 200
            yield server


@pytest.fixture(params=["/v1", ""], ids=["v1", "root"])
def client(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[object]:
    with openai.OpenAI(base_url=server.base_url + request.param, api_key="unused",
                       max_retries=0, timeout=20) as client:
        yield client


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.mark.server
@pytest.mark.timeout(90)
def test_chat(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="asked-for", messages=ask("hello"))

    assert completion.choices[0].message.content == "olleh"
    assert completion.model == "asked-for"
    assert isinstance(completion.model_extra["datarobot_association_id"], str)


@pytest.mark.server
@pytest.mark.timeout(90)
def test_streaming_chat_arrives_as_produced(client: openai.OpenAI) -> None:
    arrivals, produced = [], []
    for chunk in client.chat.completions.create(model="m", messages=ask("slow"), stream=True):
        arrivals.append(time.monotonic())
        produced.append(float(chunk.choices[0].delta.content))

    assert len(produced) == 3
    # time.monotonic is the system's monotonic clock: both processes read the same one.
    assert arrivals[0] < produced[-1] - 0.2


@pytest.mark.server
@pytest.mark.timeout(90)
def test_a_stream_that_fails_raises_in_the_client(client: openai.OpenAI) -> None:
    seen = []
    with pytest.raises(openai.APIError, match="the stream broke"):
        for chunk in client.chat.completions.create(model="m", messages=ask("failing"), stream=True):
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["one"]


@pytest.mark.server
@pytest.mark.timeout(90)
def test_models_list(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["served-llm"]


@pytest.mark.server
@pytest.mark.timeout(90)
def test_a_closed_socket_stops_the_generator(server: ServerProcess) -> None:
    closed = Path(server.stderr_path).parent / "model" / "closed"
    host, port = server.base_url.removeprefix("http://").split(":")
    body = json.dumps({"model": "m", "stream": True, "messages": ask("endless")}).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        seen = b""
        while seen.count(b'"tick"') < 3:
            data = sock.recv(65536)
            assert data, "the stream ended early"
            seen += data
        assert seen.startswith(b"HTTP/1.1 200")

    thread = wait_for(lambda: closed.read_text() if closed.exists() else None,
                      "the generator's finally", 10)
    assert thread.startswith("drum-model-")

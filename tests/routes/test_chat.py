"""/chat/completions and /models beyond the recorded contract: what the chat hook gets,
what its answers become on the wire (JSON, Server-Sent Events, errors), the client
mistakes answered 4xx, ``/models`` from the hook or the ``LLM_ID`` runtime parameter,
``async def`` hooks, and the model shapes DataRobot ships."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.app import ClientResponse, drum_client, server_config
from support.contract import sse_events
from support.model_dirs import write_custom_py

from drum_bridge import Config, TargetType

pytest.importorskip("openai")

ROUTES = ("/chat/completions", "/v1/chat/completions")
OPENAI_TYPES = """\
import asyncio
import json
import threading
import time

from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice, ChoiceDelta


def load_model(code_dir):
    return "the model"


def completion(content, **fields):
    return ChatCompletion(id="cc", created=1, model="m", object="chat.completion",
                          choices=[Choice(index=0, finish_reason="stop",
                                          message=ChatCompletionMessage(role="assistant", content=content))],
                          **fields)


def chunk(content, finish=None):
    return ChatCompletionChunk(id="ck", created=1, model="m", object="chat.completion.chunk",
                               choices=[ChunkChoice(index=0, delta=ChoiceDelta(content=content),
                                                    finish_reason=finish)])
"""
SYNC_CHAT = OPENAI_TYPES + """

def chat(completion_create_params, model, **kwargs):
    text = completion_create_params["messages"][-1]["content"]
    thread = threading.current_thread().name
    if text == "kwargs":
        return completion(json.dumps({"kwargs": sorted(kwargs), "model": model,
                                      "headers": {k: v for k, v in kwargs["headers"].items()
                                                  if k.startswith("X-")},
                                      "params": completion_create_params}))
    if text == "thread":
        return completion(thread)
    if text == "usage":
        return completion("u", usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                          system_fingerprint=None)
    if text == "dict":
        return {"id": "as-dict"}
    if text == "none":
        return None
    if text == "raise":
        raise ValueError("the chat hook failed on purpose")
    if text == "list":
        return [chunk("a"), chunk("b", "stop")]
    if text == "empty":
        return iter(())
    if text == "dicts":
        return iter([{"id": "not a chunk"}])

    def stream():
        if text == "fail-first":
            raise RuntimeError("failed before the first chunk")
        yield chunk(thread)
        for word in text.split():
            if word == "fail":
                raise RuntimeError("failed after some chunks")
            if word == "dict":
                yield {"not": "a chunk"}
            yield chunk(word + ":" + threading.current_thread().name)
        yield chunk("", "stop")

    return stream()


def get_supported_llm_models(model):
    return [Model(id="m1", created=5, object="model", owned_by="me"),
            {"id": "m2", "object": "model", "created": 6, "owned_by": "you"}]
"""
ASYNC_CHAT = OPENAI_TYPES + """

async def chat(completion_create_params, model, **kwargs):
    await asyncio.sleep(0)
    text = completion_create_params["messages"][-1]["content"]
    thread = threading.current_thread().name
    if text == "sync-stream":
        def stream():
            yield chunk(threading.current_thread().name)
        return stream()
    if not completion_create_params.get("stream"):
        return completion(thread)

    async def stream():
        yield chunk(thread)
        for word in text.split():
            await asyncio.sleep(0)
            if word == "fail":
                raise RuntimeError("async stream failed")
            yield chunk(word + ":" + threading.current_thread().name)

    return stream()


async def get_supported_llm_models(model):
    await asyncio.sleep(0)
    return [Model(id="async-model", created=7, object="model", owned_by=threading.current_thread().name)]
"""
#: The shape of DataRobot's python3_dummy_chat template: two parameters, no **kwargs.
TEMPLATE_CHAT = """\
import calendar
import time
from typing import Any, Iterator

import pandas as pd
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat import CompletionCreateParams
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice, ChoiceDelta
from openai.types.model import Model


def get_supported_llm_models(model: Any):
    return [Model(id="datarobot_llm_id", created=1744854432, object="model", owned_by="tester")]


def load_model(code_dir: str) -> Any:
    return "dummy"


def score(data, model, **kwargs):
    return pd.DataFrame({"completion": ["".join(reversed(text)) for text in data["input"]]})


def chat(completion_create_params: CompletionCreateParams, model: Any) -> ChatCompletion | Iterator[ChatCompletionChunk]:
    content = "Echo: " + completion_create_params["messages"][0]["content"]
    created = calendar.timegm(time.gmtime())
    if completion_create_params.get("stream"):
        def words():
            for word in content.split():
                yield ChatCompletionChunk(id="association_id", created=created, model=completion_create_params["model"],
                                          object="chat.completion.chunk",
                                          choices=[ChunkChoice(index=0, delta=ChoiceDelta(content=word), finish_reason=None)])
        return words()
    return ChatCompletion(
        id="association_id",
        choices=[Choice(finish_reason="stop", index=0,
                        message=ChatCompletionMessage(role="assistant", content=content))],
        created=created, model=completion_create_params["model"], object="chat.completion",
    )
"""


def textgen_config(code_dir: Path, **settings: Any) -> Config:
    return Config(
        code_dir=code_dir, target_type=TargetType.TEXT_GENERATION, target_name="completion",
        **settings,
    )


@pytest.fixture
def sync_client(tmp_path: Path) -> Iterator[TestClient]:
    with drum_client(textgen_config(write_custom_py(tmp_path / "sync", SYNC_CHAT))) as client:
        yield client


@pytest.fixture
def async_client(tmp_path: Path) -> Iterator[TestClient]:
    with drum_client(textgen_config(write_custom_py(tmp_path / "async", ASYNC_CHAT))) as client:
        yield client


def ask(client: TestClient, text: Any, route: str = ROUTES[0], **params: Any) -> ClientResponse:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], **params}
    return client.post(route, json=body, headers={"X-Custom": "yes"})


def content(response: ClientResponse) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def stream_contents(response: ClientResponse) -> list[str]:
    """The chunks' contents of a whole stream, which must end with ``[DONE]``."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = sse_events(response.text)
    assert events[-1] == {"data": "[DONE]"}
    return [json.loads(event["data"])["choices"][0]["delta"]["content"] for event in events[:-1]]


@pytest.mark.parametrize("route", ROUTES)
def test_a_completion_is_answered_with_an_association_id(sync_client: TestClient, route: str) -> None:
    response = ask(sync_client, "usage", route)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    uuid.UUID(body.pop("datarobot_association_id"))
    # The fields the model set, null ones included, and no others (DRUM's to_dict).
    assert body == {
        "id": "cc", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "u"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "system_fingerprint": None,
    }
    assert list(body) == sorted(body)  # keys sorted, as Flask's jsonify sends them


def test_the_clients_association_id_is_kept(sync_client: TestClient) -> None:
    response = ask(sync_client, "a b", datarobot_association_id="mine", stream=True)

    events = sse_events(response.text)
    assert {json.loads(e["data"])["datarobot_association_id"] for e in events[:-1]} == {"mine"}
    assert ask(sync_client, "thread", datarobot_association_id="mine").json()[
        "datarobot_association_id"] == "mine"


def test_the_hook_gets_the_parameters_and_the_headers(sync_client: TestClient) -> None:
    got = json.loads(content(ask(sync_client, "kwargs", temperature=0.5)))

    assert got["kwargs"] == ["headers"]
    assert got["model"] == "the model"
    assert got["headers"] == {"X-Custom": "yes"}
    assert got["params"] == {
        "model": "m", "messages": [{"role": "user", "content": "kwargs"}], "temperature": 0.5
    }


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("completion_create_params, model", "[]"),
        ("completion_create_params, model, headers", "['headers']"),
        ("completion_create_params, model, *, headers=None", "['headers']"),
        ("completion_create_params, model, **kwargs", "['headers']"),
    ],
)
def test_headers_are_passed_only_to_a_hook_that_takes_them(
    tmp_path: Path, signature: str, expected: str
) -> None:
    source = OPENAI_TYPES + f"""
def chat({signature}):
    received = dict(locals())
    received.update(received.pop("kwargs", {{}}))
    return completion(str(sorted(set(received) - {{"completion_create_params", "model"}})))
"""
    with drum_client(textgen_config(write_custom_py(tmp_path, source))) as client:
        assert content(ask(client, "hi")) == expected


def test_sync_hooks_run_in_model_threads_async_ones_on_the_loop(
    sync_client: TestClient, async_client: TestClient
) -> None:
    assert content(ask(sync_client, "thread")).startswith("drum-model-")
    assert not content(ask(async_client, "thread")).startswith("drum-model-")


def test_a_sync_stream_is_produced_in_model_threads(sync_client: TestClient) -> None:
    contents = stream_contents(ask(sync_client, "one two", stream=True))

    assert contents[0].startswith("drum-model-")  # the hook's call
    assert [c.partition(":")[0] for c in contents[1:]] == ["one", "two", ""]
    assert all(c.partition(":")[2].startswith("drum-model-") for c in contents[1:3])


def test_an_async_stream_is_awaited_on_the_loop(async_client: TestClient) -> None:
    contents = stream_contents(ask(async_client, "one two", stream=True))

    assert [c.partition(":")[0] for c in contents[1:]] == ["one", "two"]
    assert not any("drum-model-" in c for c in contents)


def test_an_async_hooks_sync_stream_is_still_produced_in_a_model_thread(
    async_client: TestClient,
) -> None:
    assert stream_contents(ask(async_client, "sync-stream", stream=True))[0].startswith("drum-model-")


def test_a_list_of_chunks_is_a_stream_and_an_empty_one_only_says_done(sync_client: TestClient) -> None:
    assert stream_contents(ask(sync_client, "list")) == ["a", "b"]
    response = ask(sync_client, "empty")
    assert response.status_code == 200
    assert response.text == "data: [DONE]\n\n"


def test_stream_events_are_compact_json_in_the_models_field_order(sync_client: TestClient) -> None:
    response = ask(sync_client, "list")

    first = response.text.split("\n\n")[0]
    assert first.startswith('data: {"id":"ck","choices":[{"delta":{"content":"a"},"index":0,'
                            '"finish_reason":null}],"created":1,"model":"m",'
                            '"object":"chat.completion.chunk","datarobot_association_id":"')


@pytest.mark.parametrize(
    ("text", "type_name"),
    [("dict", "dict"), ("none", "NoneType"), ("dicts", "list_iterator")],
)
def test_an_answer_of_another_type_is_drums_500(sync_client: TestClient, text: str, type_name: str) -> None:
    response = ask(sync_client, text)

    assert response.status_code == 500
    message = response.json()["message"]
    assert message.startswith(
        "ERROR: Expected response to be ChatCompletion or Iterable[ChatCompletionChunk]."
        f" response type: <class '{type_name}'>.response(str): "
    )


@pytest.mark.parametrize("stream", [False, True])
def test_a_hook_failing_before_any_chunk_answers_500(sync_client: TestClient, stream: bool) -> None:
    response = ask(sync_client, "raise" if not stream else "fail-first", stream=stream)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    expected = "the chat hook failed on purpose" if not stream else "failed before the first chunk"
    assert response.json() == {"message": f"ERROR: {expected}"}
    assert ask(sync_client, "thread").status_code == 200  # and the server goes on


@pytest.mark.parametrize(
    ("client_name", "text", "message"),
    [
        ("sync_client", "one fail", "failed after some chunks"),
        ("sync_client", "one dict", "Expected the chat stream to yield ChatCompletionChunk, got <class 'dict'>"),
        ("async_client", "one fail", "async stream failed"),
    ],
)
def test_a_stream_failing_midway_ends_with_an_error_event_and_no_done(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture,
    client_name: str, text: str, message: str,
) -> None:
    client: TestClient = request.getfixturevalue(client_name)
    with caplog.at_level(logging.ERROR, logger="drum_bridge"):
        response = ask(client, text, stream=True)

    assert response.status_code == 200
    events = sse_events(response.text)
    assert [json.loads(e["data"])["choices"][0]["delta"]["content"].partition(":")[0]
            for e in events[:-1]][1:] == ["one"]
    assert events[-1] == {
        "event": "error",
        "data": json.dumps({"error": {"message": message, "type": "server_error", "code": 500}},
                           separators=(",", ":")),
    }
    failure = [r for r in caplog.records if "the chat stream failed after 2 chunks" in r.getMessage()]
    assert failure and failure[0].exc_info is not None
    assert message in str(failure[0].exc_info[1])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": "not a list"}, "'messages' must be a list of message objects, got a string"),
        ({"model": "m"}, "'messages' must be a list of message objects, got nothing"),
        ({"messages": [{"role": "user", "content": "x"}, 3]},
         "'messages' must be a list of message objects; item 1 is a number"),
        ([1, 2], "The chat request must be a JSON object, got an array"),
        (None, "The chat request must be a JSON object, got null"),
    ],
)
def test_parameters_the_chat_api_does_not_take_answer_400(
    sync_client: TestClient, body: Any, message: str
) -> None:
    response = sync_client.post(ROUTES[0], content=json.dumps(body),
                                headers={"Content-Type": "application/json"})

    assert (response.status_code, response.json()) == (400, {"message": f"ERROR: {message}"})


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded"])
def test_a_body_not_declared_json_answers_415(sync_client: TestClient, content_type: str) -> None:
    response = sync_client.post(ROUTES[0], content=b'{"messages": []}',
                                headers={"Content-Type": content_type})

    assert response.status_code == 415
    assert response.json() == {
        "message": "ERROR: 415 Unsupported Media Type: Did not attempt to load JSON data because"
        " the request Content-Type was not 'application/json'."
    }


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json; charset=utf-8", b'{"messages": [{"role": "user", "content": "thread"}]}'),
        ("application/vnd.api+json", b'{"messages": [{"role": "user", "content": "thread"}]}'),
        ("application/json", '{"messages": [{"role": "user", "content": "thread"}]}'.encode("utf-16")),
    ],
    ids=["charset", "+json", "utf-16"],
)
def test_json_is_read_as_flask_reads_it(sync_client: TestClient, content_type: str, body: bytes) -> None:
    response = sync_client.post(ROUTES[0], content=body, headers={"Content-Type": content_type})

    assert content(response).startswith("drum-model-")


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe\xfa"])
def test_a_body_that_is_not_json_answers_drums_400(sync_client: TestClient, body: bytes) -> None:
    response = sync_client.post(ROUTES[0], content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json() == {
        "error": "The browser (or proxy) sent a request that this server could not understand."
    }


def test_a_model_without_a_chat_hook_answers_drums_404(tmp_path: Path) -> None:
    source = "import pandas as pd\n\ndef load_model(code_dir):\n    return 1\n\n" \
             "def score(data, model, **kwargs):\n    return pd.DataFrame({'completion': ['x'] * len(data)})\n"
    with drum_client(textgen_config(write_custom_py(tmp_path, source))) as client:
        for route in ROUTES:
            response = ask(client, "hi", route)
            assert (response.status_code, response.json()) == (404, {
                "message": "ERROR: This model's chat interface was called, but chat is not supported."
            })
        assert client.get("/models").json() == {"data": [], "object": "list"}
        assert client.get("/capabilities/").json()["supported_methods"] == {"chat": False}


def test_chat_works_for_other_target_types_too(tmp_path: Path) -> None:
    source = SYNC_CHAT + "\nimport pandas as pd\n\ndef score(data, model, **kwargs):\n" \
                         "    return pd.DataFrame({'Predictions': [1.0] * len(data)})\n"
    config = Config(code_dir=write_custom_py(tmp_path, source), target_type=TargetType.REGRESSION)
    with drum_client(config) as client:
        assert content(ask(client, "thread")).startswith("drum-model-")
        assert client.get("/v1/models").json() == {
            "message": "ERROR: get_supported_llm_models is supported only for TextGen models"
        }


@pytest.mark.parametrize("route", ["/models", "/v1/models"])
def test_models_come_from_the_hook(sync_client: TestClient, route: str) -> None:
    response = sync_client.get(route)

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {"id": "m1", "created": 5, "object": "model", "owned_by": "me"},
            {"id": "m2", "created": 6, "object": "model", "owned_by": "you"},
        ],
        "object": "list",
    }


def test_an_async_models_hook_is_awaited_on_the_loop(async_client: TestClient) -> None:
    (entry,) = async_client.get("/models").json()["data"]
    assert entry["id"] == "async-model"
    assert not entry["owned_by"].startswith("drum-model-")


@pytest.mark.parametrize(
    ("returns", "message"),
    [
        ("None", "get_supported_llm_models must return a list of openai Model objects (or dicts),"
                 " got <class 'NoneType'>"),
        ("['a']", "get_supported_llm_models must return openai Model objects (or dicts); one is"
                  " <class 'str'>"),
    ],
)
def test_a_models_hook_answer_of_another_kind_is_a_500(tmp_path: Path, returns: str, message: str) -> None:
    source = OPENAI_TYPES + f"\ndef chat(p, m):\n    return None\n\n" \
                            f"def get_supported_llm_models(model):\n    return {returns}\n"
    with drum_client(textgen_config(write_custom_py(tmp_path, source))) as client:
        response = client.get("/models")
        assert (response.status_code, response.json()) == (500, {"message": f"ERROR: {message}"})


@pytest.mark.parametrize(
    "value", ['{"type": "string", "payload": "my-llm"}', "my-llm"], ids=["json", "plain"]
)
def test_without_a_hook_models_name_the_llm_id_runtime_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    code_dir = write_custom_py(tmp_path, OPENAI_TYPES + "\ndef chat(completion_create_params, model):\n    return completion('x')\n")
    environ = {"TARGET_NAME": "completion", "MLOPS_RUNTIME_PARAM_LLM_ID": value}
    with drum_client(server_config(code_dir, "textgeneration", environ=environ)) as client:
        assert client.get("/v1/models").json() == {
            "data": [{"created": 1735689600, "id": "my-llm", "object": "model",
                      "owned_by": "DataRobot"}],
            "object": "list",
        }


def test_a_hook_wins_over_the_llm_id(tmp_path: Path) -> None:
    with drum_client(textgen_config(write_custom_py(tmp_path, SYNC_CHAT), llm_id="my-llm")) as client:
        assert [entry["id"] for entry in client.get("/models").json()["data"]] == ["m1", "m2"]


def test_drums_chat_template_works_unchanged(tmp_path: Path) -> None:
    with drum_client(textgen_config(write_custom_py(tmp_path, TEMPLATE_CHAT))) as client:
        assert content(ask(client, "hello there")) == "Echo: hello there"
        assert stream_contents(ask(client, "hello there", stream=True)) == ["Echo:", "hello", "there"]
        assert client.get("/models").json()["data"][0]["id"] == "datarobot_llm_id"
        response = client.post("/predict/", content=b"input\nabc\n", headers={"Content-Type": "text/csv"})
        assert response.json() == {"predictions": ["cba"]}


@pytest.mark.parametrize("path", ["/directAccess/v1/chat/completions", "/nim/v1/models"])
def test_direct_access_is_refused_as_in_drum(sync_client: TestClient, path: str) -> None:
    response = sync_client.get(path)

    assert (response.status_code, response.json()) == (
        400, {"message": "This endpoint is only supported by OpenAI based predictors"}
    )


WITHOUT_OPENAI = """\
import sys

sys.modules["openai"] = None  # any import of openai fails from here on
from pathlib import Path

from starlette.testclient import TestClient

from drum_bridge import Config, TargetType, create_app

config = Config(code_dir=Path(sys.argv[1]), target_type=TargetType.TEXT_GENERATION, target_name="completion")
with TestClient(create_app(config)) as client:
    chat = client.post("/chat/completions", json={"messages": []})
    print(chat.status_code, chat.json()["message"])
    print(client.get("/models").json())
    print(client.post("/predict/", content=b"x\\n1\\n", headers={"Content-Type": "text/csv"}).json())
print(sorted(name for name, module in sys.modules.items() if name.startswith("openai") and module))
"""


def test_the_server_needs_no_openai_package(tmp_path: Path) -> None:
    source = (
        "import pandas as pd\n\ndef load_model(code_dir):\n    return 1\n\n"
        "def score(data, model, **kwargs):\n    return pd.DataFrame({'completion': ['y'] * len(data)})\n\n"
        "def chat(completion_create_params, model):\n    return {'id': 'a dict'}\n"
    )
    code_dir = write_custom_py(tmp_path / "model", source)
    script = tmp_path / "without_openai.py"
    script.write_text(WITHOUT_OPENAI)

    run = subprocess.run([sys.executable, str(script), str(code_dir)], capture_output=True,
                         text=True, timeout=60)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "500 ERROR: Expected response to be ChatCompletion or Iterable[ChatCompletionChunk]."
        " response type: <class 'dict'>.response(str): {'id': 'a dict'}",
        "{'data': [], 'object': 'list'}",
        "{'predictions': ['y']}",
        "[]",
    ]

"""A text-generation model with ``score`` and a streaming ``chat``, for tests that serve it
through another server (hypercorn, granian, Ray Serve): it tells which process answered."""

from __future__ import annotations

import json

import httpx

from support.contract import sse_events

__all__ = ["CHAT_MODEL", "PROMPTS_CSV", "TARGET_NAME", "chat_words", "stream_chat"]

#: ``score`` answers ``<pid>:<prompt>``; ``chat`` streams the last message word by word
#: (one chunk each), and appends one line per load to ``loads`` in the code dir.
CHAT_MODEL = """\
import os
from pathlib import Path

import pandas as pd
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta


def load_model(code_dir):
    with open(Path(code_dir) / "loads", "a") as log:
        log.write(f"{os.getpid()}\\n")
    return "words"


def score(data, model, **kwargs):
    return pd.DataFrame({"completion": [f"{os.getpid()}:{p}" for p in data["promptText"]]})


def chat(completion_create_params, model, **kwargs):
    text = completion_create_params["messages"][-1]["content"]
    for word in text.split():
        yield ChatCompletionChunk(
            id="c", created=1, model=model, object="chat.completion.chunk",
            choices=[Choice(index=0, delta=ChoiceDelta(content=word), finish_reason=None)],
        )
"""
TARGET_NAME = "completion"
PROMPTS_CSV = b"promptText\nhello\nworld\n"


def stream_chat(client: httpx.Client, url: str, text: str, **headers: str) -> httpx.Response:
    """POST a streaming chat completion asking ``text``; the response, body read."""
    body = {"model": "any", "stream": True, "messages": [{"role": "user", "content": text}]}
    with client.stream("POST", url, json=body, headers=headers) as response:
        response.read()
    return response


def chat_words(response: httpx.Response) -> list[str]:
    """The contents of a chat stream's chunks, after checking it ends with ``[DONE]``."""
    events = sse_events(response.text)
    assert events[-1]["data"] == "[DONE]", events[-1]
    return [json.loads(e["data"])["choices"][0]["delta"]["content"] for e in events[:-1]]

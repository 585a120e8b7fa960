"""Beyond DRUM: ``async def score`` and ``async def score_unstructured`` are awaited on the
event loop, so concurrent requests do not wait for a model thread; sync hooks still run in
the model threads.

Each model lets every call wait (polling, bounded) until ``wanted`` calls are in flight at
once, and answers the largest number it saw and the thread it ran on.  With one model
thread, only hooks awaited on the loop can see more than one call at a time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from support.app import server_config
from support.model_dirs import write_custom_py

from drum_bridge import create_app

CONCURRENT = 4
TOGETHER = """\
import asyncio
import threading
import time

import pandas as pd

state = {"in_flight": 0, "peak": 0}


def load_model(code_dir):
    return "waits for company"


async def together(wanted):
    state["in_flight"] += 1
    state["peak"] = max(state["peak"], state["in_flight"])
    try:
        for _ in range(500):  # 5 s at most
            if state["peak"] >= wanted:
                break
            await asyncio.sleep(0.01)
    finally:
        state["in_flight"] -= 1
    return state["peak"], threading.current_thread().name


def together_sync(wanted):
    state["in_flight"] += 1
    state["peak"] = max(state["peak"], state["in_flight"])
    state["in_flight"] -= 1
    return state["peak"], threading.current_thread().name
"""
ASYNC_SCORE = TOGETHER + """

async def score(data, model, **kwargs):
    if (data["wanted"] < 0).any():
        raise ValueError("async score failed")
    peak, thread = await together(int(data["wanted"][0]))
    return pd.DataFrame({"Predictions": [float(peak)] * len(data), "thread": thread,
                         "transform_thread": data["transform_thread"]})


def transform(data, model):
    return data.assign(transform_thread=threading.current_thread().name)
"""
ASYNC_UNSTRUCTURED = TOGETHER + """

async def score_unstructured(model, data, query, **kwargs):
    if query.get("fail"):
        raise RuntimeError("async score_unstructured failed")
    peak, thread = await together(int(query["wanted"]))
    return f"{peak} {thread} {type(data).__name__}:{kwargs['mimetype']}"
"""
SYNC_UNSTRUCTURED = TOGETHER + """

def score_unstructured(model, data, query, **kwargs):
    peak, thread = together_sync(int(query["wanted"]))
    return f"{peak} {thread}"
"""


@asynccontextmanager
async def client_for(code_dir: Path, target_type: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(server_config(code_dir, target_type, "--model-threads", "1"))
    await app.drum_runtime.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://drum") as client:
            yield client
    finally:
        await app.drum_runtime.shutdown()


@pytest.mark.anyio
async def test_async_score_unstructured_is_awaited_on_the_loop(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", ASYNC_UNSTRUCTURED)
    async with client_for(code_dir, "unstructured") as client:
        responses = await asyncio.gather(*(
            client.post(f"/predictUnstructured/?wanted={CONCURRENT}", content=b"x")
            for _ in range(CONCURRENT)
        ))

    answers = [response.text.split() for response in responses]
    assert [response.status_code for response in responses] == [200] * CONCURRENT
    # All four were in flight at once with one model thread, none of them in it.
    assert {int(peak) for peak, _, _ in answers} == {CONCURRENT}
    assert not any(thread.startswith("drum-model-") for _, thread, _ in answers)
    assert {decoded for _, _, decoded in answers} == {"str:text/plain"}


@pytest.mark.anyio
async def test_sync_score_unstructured_runs_in_the_model_thread(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", SYNC_UNSTRUCTURED)
    async with client_for(code_dir, "unstructured") as client:
        responses = await asyncio.gather(*(
            client.post(f"/predictUnstructured/?wanted={CONCURRENT}", content=b"x")
            for _ in range(CONCURRENT)
        ))

    assert {response.text for response in responses} == {"1 drum-model-0"}


@pytest.mark.anyio
async def test_async_score_is_awaited_on_the_loop(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", ASYNC_SCORE)
    async with client_for(code_dir, "regression") as client:
        responses = await asyncio.gather(*(
            client.post("/predict/", content=f"wanted\n{CONCURRENT}\n{CONCURRENT}\n".encode(),
                        headers={"Content-Type": "text/csv"})
            for _ in range(CONCURRENT)
        ))

    bodies = [response.json() for response in responses]
    assert [body["predictions"] for body in bodies] == [[float(CONCURRENT)] * 2] * CONCURRENT
    extra = [dict(zip(body["extraModelOutput"]["columns"], body["extraModelOutput"]["data"][0],
                      strict=True)) for body in bodies]
    # The hook ran on the loop; the transform hook (model code) in the model thread.
    assert not any(row["thread"].startswith("drum-model-") for row in extra)
    assert {row["transform_thread"] for row in extra} == {"drum-model-0"}


@pytest.mark.anyio
async def test_failing_async_hooks_answer_drums_errors(tmp_path: Path) -> None:
    score_dir = write_custom_py(tmp_path / "score", ASYNC_SCORE)
    unstructured_dir = write_custom_py(tmp_path / "unstructured", ASYNC_UNSTRUCTURED)
    async with client_for(score_dir, "regression") as client:
        scored = await client.post("/predict/", content=b"wanted\n-1\n",
                                   headers={"Content-Type": "text/csv"})
    async with client_for(unstructured_dir, "unstructured") as client:
        unstructured = await client.post("/predictUnstructured/?fail=1", content=b"x")

    assert (scored.status_code, scored.json()) == (500, {
        "message": "ERROR: Model 'score' hook failed to make predictions."
        " Exception: ValueError('async score failed')"
    })
    assert (unstructured.status_code, json.loads(unstructured.text)) == (
        500, {"message": "ERROR: async score_unstructured failed"}
    )

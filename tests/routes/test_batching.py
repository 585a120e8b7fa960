"""Adaptive batching of /predict/: every answer is the one the request gets alone.

The property test sends generated requests at once to a model whose every model
thread is held busy, so that they wait and go into batches together, and
compares each answer (status, headers that matter, body byte for byte) with
the answer of the same request to the same model with batching off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from support.app import gather
from support.model_dirs import batch_sensitive_regressor, write_custom_py, write_pickle

from drum_bridge import batcher as batcher_module
from drum_bridge import create_app
from drum_bridge.app import DrumApp
from drum_bridge.batcher import PredictBatcher, predict_batcher
from drum_bridge.config import Batching
from drum_bridge.errors import ConfigError
from drum_bridge.model.batch import can_join
from drum_bridge.model.payload import Payload

COLUMNS = ("a", "b", "c")
CSV = {"Content-Type": "text/csv"}
#: Requests no model reads: ragged rows, not UTF-8, a string in a number column, a column
#: missing, no rows, no body.
MALFORMED = [
    b"a,b,c\n1,2\n3,4,5,6,7\n",
    b"a,b,c\n\xff,1,2\n",
    b"a,b,c\nx,1,2\n",
    b"a,b\n1,2\n",
    b"a,b,c\n",
    b"",
]


def _training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.normal(size=(60, 3)) * 10, columns=list(COLUMNS))


def _pickle(code_dir: Path, model: Any) -> Path:
    code_dir.mkdir(parents=True)
    (code_dir / "model.pkl").write_bytes(pickle.dumps(model))
    return code_dir


def regression_dir(root: Path) -> Path:
    """A LinearRegression: a missing value makes it fail, so combined calls fail too."""
    x = _training_frame()
    return _pickle(root / "regression", LinearRegression().fit(x, x.a - 2 * x.b + 0.3 * x.c))


def binary_dir(root: Path) -> Path:
    x = _training_frame()
    y = np.where(x.a + x.b > 0, "yes", "no")
    return _pickle(root / "binary", make_pipeline(SimpleImputer(), LogisticRegression()).fit(x, y))


def multiclass_dir(root: Path) -> Path:
    x = _training_frame()
    y = np.select([x.a > 5, x.b > 0], ["red", "green"], "blue")
    return _pickle(root / "multiclass", make_pipeline(SimpleImputer(), LogisticRegression()).fit(x, y))


MODELS: dict[str, tuple[Callable[[Path], Path], dict[str, Any]]] = {
    "regression": (regression_dir, {"target_type": "regression"}),
    "binary": (binary_dir, {"target_type": "binary", "positive_class_label": "yes",
                            "negative_class_label": "no"}),
    "multiclass": (multiclass_dir, {"target_type": "multiclass",
                                    "class_labels": ["red", "green", "blue"]}),
}


class Served:
    """One app with its lifespan entered and a client, on a loop of the test's own."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app: DrumApp) -> None:
        self.loop = loop
        self.app = app
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://model")
        self._stack = contextlib.AsyncExitStack()
        loop.run_until_complete(self._stack.enter_async_context(app.lifespan_context()))

    @property
    def batcher(self) -> PredictBatcher:
        batcher = predict_batcher(self.app.drum_runtime)
        assert batcher is not None
        return batcher

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self._stack.aclose())


@contextlib.contextmanager
def serving(code_dir: Path, **settings: Any) -> Iterator[Served]:
    """The app of ``code_dir`` with batching on unless ``settings`` say otherwise."""
    settings.setdefault("batching", True)
    if settings["batching"] is None:  # the default
        del settings["batching"]
    loop = asyncio.new_event_loop()
    served = Served(loop, create_app(code_dir=code_dir, **settings))
    try:
        yield served
    finally:
        served.close()
        loop.close()


def answer(response: httpx.Response) -> tuple[int, str | None, bytes]:
    return response.status_code, response.headers.get("content-type"), response.content


async def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the requests did not reach the batcher in time"
        await asyncio.sleep(0.001)


@contextlib.contextmanager
def threads_busy(batcher: PredictBatcher) -> Iterator[None]:
    """Every model thread looks busy to ``batcher`` (white box: it counts its calls in
    flight), so requests wait; on exit the threads are free and the waiting go."""
    batcher._in_flight += batcher.slots
    try:
        yield
    finally:
        batcher._in_flight -= batcher.slots
        batcher._dispatch()


async def _batched(served: Served, bodies: list[bytes]) -> list[httpx.Response]:
    """Send ``bodies`` at once while every model thread looks busy, then free the threads:
    the requests that may wait all wait, and go into batches together."""
    batcher = served.batcher
    joining = sum(
        1 for body in bodies if body and can_join(Payload(data=body, mimetype="text/csv"), batcher.limits)
    )
    with threads_busy(batcher):
        tasks = [
            asyncio.ensure_future(served.client.post("/predict/", content=body, headers=CSV))
            for body in bodies
        ]
        await _wait_for(lambda: batcher.waiting == joining)
    return list(await asyncio.gather(*tasks))


async def _alone(served: Served, bodies: list[bytes]) -> list[httpx.Response]:
    return [await served.client.post("/predict/", content=body, headers=CSV) for body in bodies]


cells = st.one_of(
    st.integers(-30, 30).map(str),
    st.floats(-50, 50, allow_nan=False).map(lambda x: repr(round(x, 5))),
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False).map(repr),
    st.just(""),  # a missing value
)


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    columns = draw(st.one_of(st.just(COLUMNS), st.just(COLUMNS), st.permutations(COLUMNS)))
    # Columns kept whole-int, whole-float or mixed, so that frames alike in dtypes are common.
    kinds = [draw(st.sampled_from(["int", "float", "any"])) for _ in columns]
    rows = draw(st.integers(1, 6))
    lines = [",".join(columns)]
    for _ in range(rows):
        row = []
        for kind in kinds:
            if kind == "int":
                row.append(str(draw(st.integers(-30, 30))))
            elif kind == "float":
                row.append(repr(draw(st.floats(-50, 50, allow_nan=False)) + 0.5))
            else:
                row.append(draw(cells))
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


requests = st.lists(
    st.one_of(csv_bodies(), csv_bodies(), csv_bodies(), st.sampled_from(MALFORMED)),
    min_size=2,
    max_size=10,
)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("batching")
    return {name: make(root) for name, (make, _) in MODELS.items()}


@pytest.mark.parametrize("model", list(MODELS))
def test_every_batched_answer_is_the_answer_alone(model_dirs: dict[str, Path], model: str) -> None:
    settings_ = MODELS[model][1]
    with serving(model_dirs[model], model_threads=1, **settings_) as batched, serving(
        model_dirs[model], batching=False, **settings_
    ) as unbatched:

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(bodies=requests)
        def check(bodies: list[bytes]) -> None:
            got = batched.loop.run_until_complete(_batched(batched, bodies))
            expected = unbatched.loop.run_until_complete(_alone(unbatched, bodies))
            for body, response, reference in zip(bodies, got, expected, strict=True):
                assert answer(response) == answer(reference), body

        check()
        counts = batched.app.drum_runtime.stats.predict_calls
        # Not vacuous: requests did share model calls, and successful ones among them.
        assert counts.batched_requests > 0
        assert counts.model_calls < counts.requests


# --- the settings, the limits, the counts --------------------------------------------------


def test_requests_arriving_while_the_model_is_busy_share_calls_and_are_counted(
    model_dirs: dict[str, Path],
) -> None:
    body = b"a,b,c\n1,2,3\n4,5,6\n"
    with serving(model_dirs["regression"], target_type="regression", model_threads=1) as served:
        before = served.loop.run_until_complete(served.client.get("/metrics")).text
        responses = served.loop.run_until_complete(_batched(served, [body] * 5))
        stats = served.loop.run_until_complete(served.client.get("/stats/")).json()
        after = served.loop.run_until_complete(served.client.get("/metrics")).text

    assert {answer(r) for r in responses} == {answer(responses[0])}
    assert responses[0].status_code == 200
    assert stats["predict_calls"] == {
        "batching": True, "model_calls": 1, "requests": 5, "batched_requests": 5,
        "largest_batch": 5, "batches_rescored_alone": 0, "batching_check": None,
        "checked_requests": 0,
    }
    # The metrics are the process's (other tests' models are named "regression" too).
    grown = {
        name: _sample(after, name) - _sample(before, name)
        for name in ("drum_bridge_predict_batch_requests_count", "drum_bridge_predict_batch_requests_sum",
                     "drum_bridge_predict_batch_rows_sum")
    }
    assert grown == {
        "drum_bridge_predict_batch_requests_count": 1.0,
        "drum_bridge_predict_batch_requests_sum": 5.0,
        "drum_bridge_predict_batch_rows_sum": 10.0,
    }


def _sample(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + '{model="regression"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_an_idle_model_scores_each_request_at_once_alone(model_dirs: dict[str, Path]) -> None:
    with serving(model_dirs["regression"], target_type="regression") as served:
        for _ in range(3):
            response = served.loop.run_until_complete(
                served.client.post("/predict/", content=b"a,b,c\n1,2,3\n", headers=CSV)
            )
            assert response.status_code == 200
        counts = served.app.drum_runtime.stats.predict_calls

    assert (counts.model_calls, counts.requests, counts.batched_requests) == (3, 3, 0)


def test_batching_is_auto_by_default_and_checks_its_first_batched_calls(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(batcher_module, "CHECKED_REQUESTS", 6)
    caplog.set_level("INFO", logger="drum_bridge.batcher")
    body = b"a,b,c\n1,2,3\n4,5,6\n"
    with serving(model_dirs["regression"], target_type="regression", batching=None,
                 model_threads=1) as served:
        assert served.app.drum_runtime.config.batching is Batching.AUTO
        first = served.loop.run_until_complete(_batched(served, [body] * 4))
        checking = served.loop.run_until_complete(served.client.get("/stats/")).json()
        second = served.loop.run_until_complete(_batched(served, [body] * 4))
        passed = served.loop.run_until_complete(served.client.get("/stats/")).json()
        third = served.loop.run_until_complete(_batched(served, [body] * 4))
        trusted = served.loop.run_until_complete(served.client.get("/stats/")).json()

    assert {answer(r) for r in first + second + third} == {answer(first[0])}
    assert first[0].status_code == 200
    # Checking: the batched call, then each request alone.
    assert checking["predict_calls"] == {
        "batching": True, "model_calls": 5, "requests": 4, "batched_requests": 4,
        "largest_batch": 4, "batches_rescored_alone": 0, "batching_check": "running",
        "checked_requests": 4,
    }
    assert passed["predict_calls"]["batching_check"] == "passed"
    assert passed["predict_calls"]["checked_requests"] == 8
    assert "Adaptive batching checked: 8 requests" in caplog.text
    # Trusted: one call for the four.
    assert trusted["predict_calls"]["model_calls"] == passed["predict_calls"]["model_calls"] + 1
    assert trusted["predict_calls"]["checked_requests"] == 8


def test_auto_batching_stops_at_the_first_answer_that_differs_from_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code_dir = write_pickle(tmp_path / "sensitive", batch_sensitive_regressor())
    bodies = [b"a,b\n1,2\n3,4\n", b"a,b\n5,6\n", b"a,b\n0,0\n7,7\n"]
    with serving(code_dir, target_type="regression", batching="auto", model_threads=1) as served, \
            serving(code_dir, target_type="regression", batching="off") as unbatched:
        expected = unbatched.loop.run_until_complete(_alone(unbatched, bodies))
        checked = served.loop.run_until_complete(_batched(served, bodies))
        stats = served.loop.run_until_complete(served.client.get("/stats/")).json()
        assert served.batcher.stopped

        async def while_busy() -> list[httpx.Response]:
            # The model looks busy, yet nothing waits to be batched any more.
            with threads_busy(served.batcher):
                tasks = [asyncio.ensure_future(served.client.post("/predict/", content=body,
                                                                  headers=CSV)) for body in bodies]
                await asyncio.sleep(0.05)
                assert served.batcher.waiting == 0
            return list(await asyncio.gather(*tasks))

        later = served.loop.run_until_complete(while_busy())
        after = served.loop.run_until_complete(served.client.get("/stats/")).json()

    assert [answer(r) for r in checked] == [answer(r) for r in expected]
    assert [answer(r) for r in later] == [answer(r) for r in expected]
    assert expected[0].content == b'{"predictions":[5.0,11.0]}'
    assert stats["predict_calls"]["batching"] is False
    assert stats["predict_calls"]["batching_check"] == "failed"
    assert stats["predict_calls"]["checked_requests"] == 3
    assert after["predict_calls"]["batched_requests"] == stats["predict_calls"]["batched_requests"]
    warning = [r for r in caplog.records if r.levelname == "WARNING" and "Adaptive batching is off" in r.message]
    assert len(warning) == 1
    assert "3 of 3 requests checked so far differed" in warning[0].message
    assert '{"predictions":[5.0,11.0]}' in warning[0].message
    assert '{"predictions":[5.000001,11.000001]}' in warning[0].message


@pytest.mark.parametrize(("threads", "cpus", "slots"), [(4, 1, 1), (4, 2, 2), (3, 8, 3)])
def test_batched_calls_at_once_are_one_per_usable_cpu_at_most_one_per_thread(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, threads: int, cpus: int, slots: int,
) -> None:
    monkeypatch.setattr(batcher_module, "usable_cpus", lambda: cpus)
    body = b"a,b,c\n1,2,3\n"
    with serving(model_dirs["regression"], target_type="regression", model_threads=threads) as served:
        assert served.batcher.slots == slots
        # With every slot busy, the next requests wait and then share one call.
        responses = served.loop.run_until_complete(_batched(served, [body] * 3))
        counts = served.app.drum_runtime.stats.predict_calls

    assert [r.status_code for r in responses] == [200] * 3
    assert (counts.model_calls, counts.largest_batch) == (1, 3)


def test_batching_on_does_not_check(model_dirs: dict[str, Path]) -> None:
    with serving(model_dirs["regression"], target_type="regression", batching="on",
                 model_threads=1) as served:
        served.loop.run_until_complete(_batched(served, [b"a,b,c\n1,2,3\n"] * 3))
        stats = served.app.drum_runtime.stats.predict_calls.body()

    assert (stats["model_calls"], stats["batching_check"], stats["checked_requests"]) == (1, None, 0)


def test_batching_off_scores_every_request_alone(model_dirs: dict[str, Path]) -> None:
    with serving(model_dirs["regression"], target_type="regression", batching=False) as served:
        assert predict_batcher(served.app.drum_runtime) is None

        async def many() -> list[httpx.Response]:
            return list(await asyncio.gather(*(
                served.client.post("/predict/", content=b"a,b,c\n1,2,3\n", headers=CSV)
                for _ in range(6)
            )))

        responses = served.loop.run_until_complete(many())
        stats = served.loop.run_until_complete(served.client.get("/stats/")).json()

    assert [r.status_code for r in responses] == [200] * 6
    assert stats["predict_calls"] == {
        "batching": False, "model_calls": 6, "requests": 6, "batched_requests": 0,
        "largest_batch": 1, "batches_rescored_alone": 0, "batching_check": None,
        "checked_requests": 0,
    }


def test_a_request_larger_than_a_batch_is_scored_alone(model_dirs: dict[str, Path]) -> None:
    big = b"a,b,c\n" + b"1,2,3\n" * 20
    with serving(model_dirs["regression"], target_type="regression", model_threads=1,
                 batch_max_rows=10) as served:
        responses = served.loop.run_until_complete(_batched(served, [big, b"a,b,c\n1,2,3\n"] * 2))
        counts = served.app.drum_runtime.stats.predict_calls

    assert [r.status_code for r in responses] == [200] * 4
    assert (counts.model_calls, counts.largest_batch) == (3, 2)


def test_requests_waiting_past_the_limit_are_refused_503(model_dirs: dict[str, Path]) -> None:
    with serving(model_dirs["regression"], target_type="regression", model_threads=1,
                 max_waiting_requests=2) as served:
        batcher = served.batcher

        async def scenario() -> list[httpx.Response]:
            with threads_busy(batcher):
                waiting = [asyncio.ensure_future(served.client.post(
                    "/predict/", content=b"a,b,c\n1,2,3\n", headers=CSV)) for _ in range(2)]
                await _wait_for(lambda: batcher.waiting == 2)
                refused = await served.client.post("/predict/", content=b"a,b,c\n1,2,3\n", headers=CSV)
            return [refused, *await asyncio.gather(*waiting)]

        refused, *served_ = served.loop.run_until_complete(scenario())

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "--max-waiting-requests" in refused.json()["message"]
    assert [r.status_code for r in served_] == [200, 200]


def test_a_request_waiting_past_the_request_timeout_answers_504(model_dirs: dict[str, Path]) -> None:
    with serving(model_dirs["regression"], target_type="regression", model_threads=1,
                 request_timeout=0.05) as served:
        batcher = served.batcher

        async def scenario() -> httpx.Response:
            with threads_busy(batcher):  # past the timeout
                return await served.client.post("/predict/", content=b"a,b,c\n1,2,3\n", headers=CSV)

        response = served.loop.run_until_complete(scenario())
        assert batcher.waiting == 0

    assert response.status_code == 504
    assert "request timeout of 0.05 s" in response.json()["message"]


def test_requests_waiting_when_draining_begins_answer_503_at_once(model_dirs: dict[str, Path]) -> None:
    with serving(model_dirs["regression"], target_type="regression", model_threads=1) as served:
        batcher = served.batcher

        async def scenario() -> tuple[int, list[httpx.Response]]:
            with threads_busy(batcher):  # through the drain
                waiting = [asyncio.ensure_future(served.client.post(
                    "/predict/", content=b"a,b,c\n1,2,3\n", headers=CSV)) for _ in range(3)]
                await _wait_for(lambda: batcher.waiting == 3)
                refused = served.app.drum_runtime.begin_drain()
                return refused, list(await asyncio.gather(*waiting))

        refused, responses = served.loop.run_until_complete(scenario())

    assert refused == 3
    assert [(r.status_code, r.json()["message"]) for r in responses] == [
        (503, "ERROR: The server is shutting down; retry on another replica")
    ] * 3


ROW_WISE = """
import pandas as pd

def load_model(code_dir):
    return "no model"

def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": data["a"] * 2.5 + data["b"]})
"""


@pytest.mark.parametrize(("row_wise", "batched_requests"), [(False, 0), (True, 4)])
def test_a_score_hook_is_batched_only_when_declared_row_wise(
    tmp_path: Path, row_wise: bool, batched_requests: int
) -> None:
    code_dir = write_custom_py(tmp_path / "model", ROW_WISE)
    bodies = [b"a,b\n1,2\n", b"a,b\n3,4\n5,6\n", b"a,b\n7,8\n", b"a,b\n0,1\n"]
    with serving(code_dir, target_type="regression", model_threads=1,
                 batch_row_wise_score=row_wise) as served, serving(
        code_dir, target_type="regression", batching=False
    ) as unbatched:
        if row_wise:
            responses = served.loop.run_until_complete(_batched(served, bodies))
        else:
            assert predict_batcher(served.app.drum_runtime) is None
            responses = served.loop.run_until_complete(_alone(served, bodies))
        expected = unbatched.loop.run_until_complete(_alone(unbatched, bodies))
        counts = served.app.drum_runtime.stats.predict_calls

    assert [answer(r) for r in responses] == [answer(r) for r in expected]
    assert counts.batched_requests == batched_requests


def test_the_batching_settings_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "DRUM_BRIDGE_BATCHING": "on", "DRUM_BRIDGE_BATCH_ROW_WISE_SCORE": "true",
        "DRUM_BRIDGE_BATCH_MAX_ROWS": "10", "DRUM_BRIDGE_BATCH_MAX_REQUESTS": "3",
        "DRUM_BRIDGE_BATCH_MAX_WAIT_MS": "0.5",
    }
    tmp_path.joinpath("model").mkdir()
    config = gather(tmp_path / "model", "--target-type", "regression", environ=environ)
    default = gather(tmp_path / "model", "--target-type", "regression")

    assert (config.batching, config.batch_row_wise_score, config.batch_max_rows,
            config.batch_max_requests, config.batch_max_wait_ms) == (Batching.ON, True, 10, 3, 0.5)
    assert (default.batching, default.batch_row_wise_score, default.batch_max_wait_ms) == (
        Batching.AUTO, False, 0.0)
    for raw, setting in (("auto", Batching.AUTO), ("AUTO", Batching.AUTO), ("false", Batching.OFF),
                         ("1", Batching.ON)):
        spelled = gather(tmp_path / "model", "--target-type", "regression",
                         environ={"DRUM_BRIDGE_BATCHING": raw})
        assert spelled.batching is setting, raw
    with pytest.raises(ConfigError, match="'sometimes' is not a batching setting; use auto, on or off"):
        gather(tmp_path / "model", "--target-type", "regression",
               environ={"DRUM_BRIDGE_BATCHING": "sometimes"})
    assert gather(tmp_path / "model", "--target-type", "regression", "--batching", "off",
                  environ={"DRUM_BRIDGE_BATCHING": "false"}).batching is Batching.OFF
    with pytest.raises(ConfigError, match="--batching 'off' disagrees with DRUM_BRIDGE_BATCHING='auto'"):
        gather(tmp_path / "model", "--target-type", "regression", "--batching", "off",
               environ={"DRUM_BRIDGE_BATCHING": "auto"})
    assert default.batch_max_rows == 1000 and default.batch_max_requests == 64
    with pytest.raises(ConfigError, match="batch_max_rows must be a whole number of at least 1"):
        dataclasses.replace(default, batch_max_rows=0)
    with pytest.raises(ConfigError, match="batch_max_wait_ms must not be negative"):
        dataclasses.replace(default, batch_max_wait_ms=-1.0)


def test_concurrent_requests_without_holding_the_model_answer_as_alone(
    model_dirs: dict[str, Path],
) -> None:
    bodies = [f"a,b,c\n{i},{i % 7},{i / 4}\n{i * 3},1,2\n".encode() for i in range(24)]
    settings_ = MODELS["multiclass"][1]
    with serving(model_dirs["multiclass"], model_threads=1, **settings_) as batched, serving(
        model_dirs["multiclass"], batching=False, **settings_
    ) as unbatched:

        async def at_once() -> list[httpx.Response]:
            return list(await asyncio.gather(*(
                batched.client.post("/predict/", content=body, headers=CSV) for body in bodies
            )))

        got = batched.loop.run_until_complete(at_once())
        expected = unbatched.loop.run_until_complete(_alone(unbatched, bodies))
        counts = batched.app.drum_runtime.stats.predict_calls

    assert [answer(r) for r in got] == [answer(r) for r in expected]
    assert {r.status_code for r in got} == {200}
    assert counts.requests == len(bodies)

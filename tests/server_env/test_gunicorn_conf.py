"""``gunicorn -c server/gunicorn.conf.py``: the same app, with the same settings as ``drum
server``, from the same environment, under gunicorn's uvicorn-worker."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from dropin_env import BIN, SERVER_DIR, Launch, Started, user_env
from support.model_dirs import SAMPLES_CSV, SLEEPY_MODEL, write_custom_py, write_pickle
from support.server import process_tree, wait_for

from drum_bridge.observability.metrics import FLUSH_SECONDS

pytestmark = [pytest.mark.server, pytest.mark.timeout(90)]

GUNICORN = [str(BIN / "gunicorn"), "-c", str(SERVER_DIR / "gunicorn.conf.py")]


def param(payload: object) -> str:
    """A runtime parameter's value as DataRobot sets it."""
    kind = "numeric" if isinstance(payload, (int, float)) else "string"
    return json.dumps({"type": kind, "payload": payload})


def printed_config(launch: Launch, env: dict[str, str]) -> tuple[dict[str, str], str]:
    """gunicorn's settings as it resolved them (``--print-config``), by name; its log."""
    run = launch([*GUNICORN, "--print-config"], env)
    assert run.exit_code(timeout=60) == 0, run.stderr
    settings = {}
    for line in run.stdout.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            settings[name.strip()] = value.strip()
    return settings, run.stderr


def requests_counted(server: Started, route: str) -> float:
    """``drum_bridge_requests_total`` for ``GET route`` answered 200, from one scrape."""
    text = httpx.get(server.base_url + "/metrics").text
    pattern = re.compile(r'^drum_bridge_requests_total\{(.*)\} (\S+)$', re.MULTILINE)
    return sum(
        float(value) for labels, value in pattern.findall(text)
        if f'route="{route}"' in labels and 'status="200"' in labels and 'method="GET"' in labels
    )


@pytest.mark.slow
def test_serves_the_model_with_two_workers_and_stops_on_sigterm(
    launch: Launch, address: str, regressor_dir: Path, tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = user_env(
        CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression", MAX_WORKERS="2",
        TMPDIR=str(tmpdir),
    )
    server = launch(GUNICORN, env)

    ping = server.first_answer()
    assert (ping.status_code, ping.json()) == (200, {"message": "OK"})
    # drum server's uvicorn options: no Server header, DRUM's headers.
    assert "server" not in ping.headers
    assert ping.headers["X-Drum-Version"]
    predict = httpx.post(server.base_url + "/predict/", files={"X": ("X.csv", SAMPLES_CSV)})
    assert predict.status_code == 200
    assert predict.json() == {"predictions": pytest.approx([5.0, 11.0])}

    workers = wait_for(
        lambda: (found if len(found := process_tree(server.process.pid)[1:]) == 2 else None),
        "2 worker processes", timeout=30,
    )
    # Each worker loads the model: wait until both have finished their start-up.
    wait_for(lambda: all_workers_ready(server, len(workers)), "both workers serving", timeout=30)

    # One scrape counts the requests of every worker (prometheus-client's multiprocess mode).
    # Each worker writes its counts at most FLUSH_SECONDS late: count once they settled.
    def settled() -> float | None:
        first = requests_counted(server, "/ping/")
        time.sleep(FLUSH_SECONDS + 0.2)  # one flush interval, not a readiness wait
        return first if requests_counted(server, "/ping/") == first else None

    before = wait_for(settled, "the counts to settle", timeout=20)
    for _ in range(20):
        assert httpx.get(server.base_url + "/ping/", headers={"Connection": "close"}).status_code == 200
    wait_for(lambda: requests_counted(server, "/ping/") == before + 20 or None,
             "20 more /ping/ counted", timeout=10)
    # ... whichever worker answered: each one writes its metrics where every worker reads.
    (metrics_dir,) = tmpdir.iterdir()
    assert metrics_dir.name.startswith("drum-bridge-metrics-")
    files = sorted(path.name for path in metrics_dir.iterdir())
    pids_writing = {int(m.group(1)) for name in files if (m := re.search(r"_(\d+)\.db$", name))}
    assert set(workers) <= pids_writing, (workers, files)

    # drum server's logging configuration: the access line carries the request id.
    access = [line for line in server.stdout.splitlines() if '"GET /ping/ HTTP/1.1" 200' in line]
    assert access and re.search(r"uvicorn\.access \[[0-9a-f-]{36}\]", access[-1]), server.stdout

    assert server.terminate() == 0
    assert wait_for(lambda: server.group_is_gone() or None, "the workers to end", timeout=10)
    assert list(tmpdir.iterdir()) == []  # the metrics directory went with gunicorn


def all_workers_ready(server: Started, count: int) -> bool | None:
    """True once ``count`` workers have logged that they serve."""
    ready = server.stderr.count("Application startup complete.")
    return True if ready >= count else None


@pytest.mark.slow
def test_workers_are_recycled_after_drums_max_requests(
    launch: Launch, address: str, regressor_dir: Path
) -> None:
    env = user_env(
        CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression",
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_MAX_REQUESTS=param(3),
    )
    server = launch(GUNICORN, env)
    assert server.first_answer().status_code == 200
    first = process_tree(server.process.pid)[1:]
    assert len(first) == 1

    for _ in range(4):  # the first answer's request and these: past 3, the worker goes
        httpx.get(server.base_url + "/ping/", headers={"Connection": "close"})
    replaced = wait_for(
        lambda: (pids if (pids := process_tree(server.process.pid)[1:]) and pids != first else None),
        "a new worker", timeout=30,
    )
    assert len(replaced) == 1
    assert server.first_answer().status_code == 200
    assert server.terminate() == 0


def predict_in_background(server: Started, seconds: float) -> list[object]:
    """POST a SLEEPY_MODEL call of ``seconds`` from a thread; its answer (or error) lands in
    the list returned."""
    answers: list[object] = []

    def call() -> None:
        try:
            answers.append(httpx.post(
                server.base_url + "/predict/", content=f"sleep\n{seconds}\n",
                headers={"Content-Type": "text/csv"}, timeout=60,
            ))
        except httpx.HTTPError as exc:
            answers.append(exc)

    threading.Thread(target=call, daemon=True).start()
    return answers


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(
    launch: Launch, address: str, tmp_path: Path
) -> None:
    code_dir = write_custom_py(tmp_path / "sleepy", SLEEPY_MODEL)
    env = user_env(CODE_DIR=str(code_dir), ADDRESS=address, TARGET_TYPE="regression")
    server = launch(GUNICORN, env)
    assert server.first_answer().status_code == 200

    answers = predict_in_background(server, 2)
    wait_for(lambda: (code_dir / "started").exists() or None, "the call to run", 15)
    server.process.terminate()

    assert server.exit_code(timeout=30) == 0
    wait_for(lambda: answers or None, "the answer", 10)
    assert [getattr(answer, "status_code", answer) for answer in answers] == [200]


@pytest.mark.slow
def test_a_stuck_model_does_not_hold_gunicorn_past_the_grace_period(
    launch: Launch, address: str, tmp_path: Path
) -> None:
    code_dir = write_custom_py(tmp_path / "sleepy", SLEEPY_MODEL)
    env = user_env(
        CODE_DIR=str(code_dir), ADDRESS=address, TARGET_TYPE="regression",
        DRUM_BRIDGE_GRACEFUL_TIMEOUT="2",
    )
    server = launch(GUNICORN, env)
    assert server.first_answer().status_code == 200

    predict_in_background(server, 120)
    wait_for(lambda: (code_dir / "started").exists() or None, "the call to run", 15)
    signalled = time.monotonic()
    server.process.terminate()

    assert server.exit_code(timeout=30) == 0
    # The grace period, gunicorn's margin past it, and slack for a loaded machine.
    assert time.monotonic() - signalled < 2 + 2 + 2


def test_drum_settings_become_gunicorns(
    launch: Launch, address: str, regressor_dir: Path
) -> None:
    env = user_env(
        CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression",
        MAX_WORKERS="3",
        MLOPS_RUNTIME_PARAM_DRUM_WEBSERVER_BACKLOG=param(64),
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_MAX_REQUESTS=param(1000),
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_MAX_REQUESTS_JITTER=param(50),
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_GRACEFUL_TIMEOUT=param(20),
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_KEEP_ALIVE=param(7),
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_LOG_LEVEL=param("warning"),
    )
    settings, log = printed_config(launch, env)

    assert settings["bind"] == f"['{address}']"
    assert settings["workers"] == "3"
    assert settings["backlog"] == "64"
    assert settings["max_requests"] == "1000"
    assert settings["max_requests_jitter"] == "50"
    assert settings["graceful_timeout"] == "22"  # 20 for the requests, 2 to shut down
    assert settings["keepalive"] == "7"
    assert settings["loglevel"] == "warning"
    assert "DRUM_GUNICORN_LOG_LEVEL is ignored" not in log  # drum server's note; honoured here
    assert settings["wsgi_app"] == "drum_bridge.server.process:app_factory()"
    assert "DrumBridgeWorker" in settings["worker_class"]


def test_defaults_match_drum_servers(launch: Launch, address: str, regressor_dir: Path) -> None:
    env = user_env(CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression")
    settings, _ = printed_config(launch, env)

    assert settings["workers"] == "1"
    assert settings["backlog"] == "2048"
    assert settings["max_requests"] == "0"
    assert settings["graceful_timeout"] == "32"  # drum server's 30 s, then 2 to shut down
    assert settings["keepalive"] == "5"  # uvicorn's, not gunicorn's 2
    assert settings["loglevel"] == "info"


def test_a_setting_drum_server_refuses_stops_gunicorn_too(
    launch: Launch, address: str, regressor_dir: Path
) -> None:
    env = user_env(
        CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression", MONITOR="1"
    )
    run = launch([*GUNICORN, "--check-config"], env)

    assert run.exit_code(timeout=60) == 2
    assert run.stderr.startswith("drum: error: MONITOR is not supported by drum-bridge"), run.stderr


def test_a_missing_setting_stops_gunicorn_with_drum_servers_message(
    launch: Launch, address: str, regressor_dir: Path
) -> None:
    run = launch([*GUNICORN, "--check-config"], user_env(CODE_DIR=str(regressor_dir), ADDRESS=address))

    assert run.exit_code(timeout=60) == 2
    assert "drum: error: Target type is missing." in run.stderr


def test_a_bad_log_level_stops_gunicorn(launch: Launch, address: str, regressor_dir: Path) -> None:
    env = user_env(
        CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression",
        MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_LOG_LEVEL=param("loud"),
    )
    run = launch([*GUNICORN, "--check-config"], env)

    assert run.exit_code(timeout=60) == 2
    assert "MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_LOG_LEVEL must be one of" in run.stderr


def test_a_model_that_fails_to_load_stops_gunicorn(
    launch: Launch, address: str, tmp_path: Path
) -> None:
    broken = write_pickle(tmp_path / "broken", {"not": "a model"})
    env = user_env(CODE_DIR=str(broken), ADDRESS=address, TARGET_TYPE="regression")
    server = launch(GUNICORN, env)

    # The worker exits as drum server's does (status 3: gunicorn's "failed to boot"), and
    # gunicorn stops instead of starting it again and again.
    assert server.exit_code(timeout=60) == 3
    assert "Could not find any framework" in server.stderr

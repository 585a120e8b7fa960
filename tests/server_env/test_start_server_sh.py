"""``server/start_server.sh``: the drop-in environment's entry point, started as the image
starts it, configured by DRUM's environment variables only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from dropin_env import SERVER_DIR, Launch, user_env
from support.model_dirs import SAMPLES_CSV

pytestmark = [pytest.mark.server, pytest.mark.timeout(60)]

START_SERVER = str(SERVER_DIR / "start_server.sh")


def test_start_server_sh_is_executable() -> None:
    # The image runs it as its command; git must keep the bit.
    assert (SERVER_DIR / "start_server.sh").stat().st_mode & 0o111 == 0o111


def test_serves_the_model_from_the_environment_as_the_process_it_was_started_as(
    launch: Launch, address: str, regressor_dir: Path
) -> None:
    env = user_env(CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression")
    server = launch([START_SERVER], env)

    ping = server.first_answer()
    assert (ping.status_code, ping.json()) == (200, {"message": "OK"})
    predict = httpx.post(
        server.base_url + "/predict/", content=SAMPLES_CSV, headers={"Content-Type": "text/csv"}
    )
    assert predict.status_code == 200
    assert predict.json() == {"predictions": pytest.approx([5.0, 11.0])}
    # The image's HEALTHCHECK finds the server from the same environment.
    health = subprocess.run([sys.executable, str(SERVER_DIR / "healthcheck.py")], env=env,
                            capture_output=True, text=True, timeout=30)
    assert health.returncode == 0, health.stdout + health.stderr

    # exec: the pid that was started is `drum server` itself, not a shell waiting for it,
    # so it is PID 1 in a container and gets the container's signals.
    argv = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")[:-1]
    assert [Path(argv[1].decode()).name, *argv[2:]] == ["drum", b"server"], argv
    assert "python" in Path(f"/proc/{server.process.pid}/exe").resolve().name
    assert server.terminate() == 0
    assert "Executing command: drum server" in server.stdout


def test_defaults_are_drums_code_dir_and_address(launch: Launch) -> None:
    # CODE_DIR and ADDRESS unset: /opt/code and 0.0.0.0:8080, as in DRUM's environments.
    # /opt/code is no directory here, so the server stops before binding anything.
    if Path("/opt/code").exists():
        pytest.skip("/opt/code exists on this machine")
    env = user_env(TARGET_TYPE="regression", ENABLE_CUSTOM_MODEL_RUNTIME_ENV_DUMP="1")
    server = launch([START_SERVER], env)

    assert server.exit_code(timeout=30) == 2
    assert "The path /opt/code is not a directory!" in server.stderr
    dumped = server.stdout.splitlines()
    assert "CODE_DIR=/opt/code" in dumped
    assert "ADDRESS=0.0.0.0:8080" in dumped


def test_environment_is_not_printed_unless_asked(launch: Launch, address: str) -> None:
    env = user_env(CODE_DIR="/nonexistent/model", ADDRESS=address, TARGET_TYPE="regression")
    server = launch([START_SERVER], env)

    assert server.exit_code(timeout=30) == 2
    assert "CODE_DIR=" not in server.stdout
    assert "The path /nonexistent/model is not a directory!" in server.stderr


def test_arguments_are_passed_on_to_drum_server(
    launch: Launch, address: str, regressor_dir: Path
) -> None:
    env = user_env(CODE_DIR=str(regressor_dir), ADDRESS=address, TARGET_TYPE="regression")
    server = launch([START_SERVER, "--logging-level", "loud"], env)

    assert server.exit_code(timeout=30) == 2
    assert "argument --logging-level: invalid choice: 'loud'" in server.stderr

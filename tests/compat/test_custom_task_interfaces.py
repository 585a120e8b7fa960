"""``datarobot_drum.custom_task_interfaces`` as drum-bridge provides it: saving and loading
a task, and user secrets (read from files and the environment, masked in output)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from drum_bridge.compat.datarobot_drum.custom_task_interfaces import (
    ApiTokenSecret,
    BasicSecret,
    GCPKey,
    GCPSecret,
    RegressionEstimatorInterface,
    S3Secret,
)
from drum_bridge.compat.datarobot_drum.custom_task_interfaces.user_secrets import (
    UnsupportedSecretError,
    load_secrets,
    patch_outputs_to_scrub_secrets,
    reset_outputs_to_allow_secrets,
)
from drum_bridge.compat.datarobot_drum.drum.exceptions import DrumSerializationError


class Task(RegressionEstimatorInterface):
    def __init__(self) -> None:
        self.weights = [1, 2]
        self.big = "not pickled"


def test_a_task_saves_and_loads_without_its_excluded_attributes(tmp_path: Path) -> None:
    task = Task()
    task.save_task(str(tmp_path), exclude=["big"])
    loaded = Task.load(str(tmp_path))

    assert (loaded.weights, loaded.big, task.big) == ([1, 2], None, "not pickled")
    assert (tmp_path / "drum_artifact.pkl").is_file()
    assert loaded.secrets == {}


def test_excluding_what_a_task_lacks_is_drum_s_error(tmp_path: Path) -> None:
    with pytest.raises(DrumSerializationError, match="The object named nope passed in exclude= was not found"):
        Task().save_task(str(tmp_path), exclude=["nope"])


def test_an_unfitted_task_does_not_fit_silently() -> None:
    with pytest.raises(NotImplementedError):
        Task().fit(None, None)


def test_secrets_come_from_files_and_prefixed_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "S3").write_text(json.dumps({"credential_type": "s3", "aws_access_key_id": "id"}))
    (tmp_path / "BOTH").write_text(json.dumps({"credential_type": "api_token", "api_token": "file"}))
    monkeypatch.setenv("MY_BOTH", json.dumps({"credential_type": "api_token", "api_token": "env"}))
    monkeypatch.setenv("MY_GCP", json.dumps(
        {"credential_type": "GCP", "gcp_key": {"type": "service_account", "private_key": "k"}}
    ))
    monkeypatch.setenv("MYOTHER", json.dumps({"credential_type": "api_token", "api_token": "x"}))

    secrets = load_secrets(str(tmp_path), "MY")

    assert secrets == {
        "S3": S3Secret(aws_access_key_id="id"),
        "BOTH": ApiTokenSecret(api_token="file"),
        "GCP": GCPSecret(gcp_key=GCPKey(type="service_account", private_key="k")),
    }
    assert not secrets["S3"].is_partial_secret()
    assert S3Secret(config_id="c").is_partial_secret()


def test_without_a_mount_path_or_prefix_there_are_no_secrets() -> None:
    assert load_secrets(None, None) == {}


def test_an_unknown_credential_type_is_drum_s_error(tmp_path: Path) -> None:
    (tmp_path / "X").write_text('{"credential_type": "carrier_pigeon"}')
    with pytest.raises(UnsupportedSecretError, match="Unsupported secret type: 'carrier_pigeon'"):
        load_secrets(str(tmp_path), None)


def test_a_secret_s_repr_masks_its_strings() -> None:
    assert repr(BasicSecret(username="ann", password="pw")) == (
        "BasicSecret(username='*****', password='*****', snowflake_account_name=None)"
    )


def test_secret_values_are_masked_in_stdout_and_logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("drum_bridge.test_secrets")
    # Inside the test: pytest takes stdout over when the test starts, after its fixtures.
    patch_outputs_to_scrub_secrets([ApiTokenSecret(api_token="tok-123"),
                                    BasicSecret(username="ann", password="tok-123-long")])
    try:
        print("token tok-123-long and tok-123 of ann")
        with caplog.at_level(logging.INFO, logger="drum_bridge.test_secrets"):
            logger.info("calling with %s", "tok-123")
    finally:
        reset_outputs_to_allow_secrets()

    assert capsys.readouterr().out == "token ***** and ***** of *****\n"
    assert caplog.messages == ["calling with *****"]


def test_masking_stops_when_reset(capsys: pytest.CaptureFixture[str]) -> None:
    secrets: list[Any] = [ApiTokenSecret(api_token="tok-123")]
    patch_outputs_to_scrub_secrets(secrets)
    reset_outputs_to_allow_secrets()
    print("tok-123")

    assert capsys.readouterr().out == "tok-123\n"

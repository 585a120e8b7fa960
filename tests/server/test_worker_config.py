"""The Config a worker process gets is the one the CLI built."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

from drum_bridge import Batching, Config, ServerType, TargetType
from drum_bridge.server.process import app_factory
from drum_bridge.server.worker_config import CONFIG_ENV, decode_config, encode_config


def _everything_set(code_dir: Path) -> Config:
    return Config(
        code_dir=code_dir,
        target_type=TargetType.MULTICLASS,
        class_labels=("setosa", "versicolor", "virginica"),
        target_name="species",
        llm_id="my-llm",
        url_prefix="/model/v1",
        host="0.0.0.0",
        port=9123,
        max_workers=3,
        with_error_server=True,
        show_stacktrace=True,
        server_type=ServerType.GUNICORN,
        load_all_extensions=True,
        model_threads=2,
        flask_hooks_inline=True,
        flask_hook_threads=7,
        wsgi_threads=5,
        graceful_timeout=4.5,
        max_body_size=1234,
        max_header_size=4321,
        request_timeout=12.5,
        max_waiting_requests=7,
        batching=Batching.ON,
        batch_row_wise_score=True,
        batch_max_rows=50,
        batch_max_requests=9,
        batch_max_wait_ms=1.5,
        header_timeout=3.5,
        body_timeout=7.5,
        metrics=False,
        log_format="json",
        access_log=False,
        gc_freeze=False,
        keep_freed_memory=False,
        backlog=64,
        keep_alive=0.5,
        max_requests=100,
        max_requests_jitter=10,
        deployment_config=code_dir / "deployment.json",
        user_secrets_mount_path=code_dir / "secrets",
        user_secrets_prefix="SECRET",
        allow_dr_api_access=True,
        webserver="https://app.datarobot.com",
        api_token="token",
        model_metadata={"name": "iris", "inferenceModel": {"classLabels": ["a", "b"]}},
    )


def test_a_fully_populated_config_round_trips(code_dir: Path) -> None:
    config = _everything_set(code_dir)
    defaults = Config(code_dir=code_dir, target_type=TargetType.REGRESSION)
    unset = [f.name for f in fields(Config) if getattr(config, f.name) == getattr(defaults, f.name)]
    # A multiclass model has no positive/negative labels: the binary test round-trips those.
    assert unset == ["code_dir", "positive_class_label", "negative_class_label"], (
        "set every new field to a value other than its default, so that it is round-tripped"
    )

    decoded = decode_config(encode_config(config))

    # Field by field: model_metadata is not part of Config's equality.
    assert {f.name: getattr(decoded, f.name) for f in fields(Config)} == {
        f.name: getattr(config, f.name) for f in fields(Config)
    }
    assert decoded == config
    assert type(decoded.code_dir) is type(config.code_dir)
    assert type(decoded.class_labels) is tuple


def test_a_binary_config_round_trips(code_dir: Path) -> None:
    config = Config(code_dir=code_dir, target_type=TargetType.BINARY,
                    positive_class_label="yes", negative_class_label="no")
    assert decode_config(encode_config(config)) == config


def test_the_worker_builds_its_app_from_the_environment(
    code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(code_dir=code_dir, target_type=TargetType.REGRESSION, model_threads=3)
    monkeypatch.setenv(CONFIG_ENV, encode_config(config))
    assert os.environ[CONFIG_ENV]
    assert app_factory().drum_runtime.config == config

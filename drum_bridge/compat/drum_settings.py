"""Every setting of DRUM 1.18.1's ``drum server``, and what drum-bridge does with it.

A setting is a flag, the environment variables DRUM reads for it, or both (an
environment-only setting has no flag; a runtime parameter is read from
``MLOPS_RUNTIME_PARAM_<NAME>``).  Its fate here is one of:

- ``WORKS``: honoured as in DRUM;
- ``INERT``: accepted without effect (as in DRUM it only feeds MLOps monitoring or belongs to
  another command, or it tunes gunicorn's workers, which have no uvicorn counterpart); start-up
  logs a line saying so;
- ``REFUSED``: start-up stops with one line saying why.

``check_drum_settings`` applies the table to a command line and an environment; the
README's settings table and ``tests/compat/test_drum_settings.py`` say the same.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ..config.runtime_parameters import PREFIX as RUNTIME_PARAM_PREFIX
from ..config.sources import parse_bool
from ..errors import ConfigError

__all__ = ["DRUM_SETTINGS", "DrumSetting", "Fate", "check_drum_settings", "refused_flags"]


class Fate(str, enum.Enum):
    WORKS = "works"
    INERT = "no effect"
    REFUSED = "refused"


@dataclass(frozen=True)
class DrumSetting:
    #: The flag (``--monitor``), or None for an environment-only setting.
    flag: str | None
    #: The environment variables DRUM reads for it (runtime parameter names if ``runtime_parameter``).
    env: tuple[str, ...]
    fate: Fate
    #: What it does here; for INERT and REFUSED the rest of the line after its name.
    note: str
    #: The environment variable is an on/off switch (set but off counts as not set).
    switch: bool = False
    runtime_parameter: bool = False

    @property
    def dest(self) -> str | None:
        """The flag's argparse destination."""
        return None if self.flag is None else self.flag.removeprefix("--").replace("-", "_")

    @property
    def env_names(self) -> tuple[str, ...]:
        """The environment variables as they are spelled in the environment."""
        if self.runtime_parameter:
            return tuple(RUNTIME_PARAM_PREFIX + name for name in self.env)
        return self.env


_MONITORING = (
    "is not supported by drum-bridge: MLOps monitoring reports through DataRobot's MLOps agent"
    " (datarobot-mlops), which drum-bridge does not ship; serve with datarobot-drum to monitor"
)
_MONITORING_ONLY = "has no effect without MLOps monitoring (as in DRUM), which drum-bridge does not support"
_NOT_HERE = "does not apply to drum-bridge"
_GPU = f"{_NOT_HERE}: GPU predictors (Triton, NIM, vLLM) are served by datarobot-drum"
_LAZY = (
    "is not supported by drum-bridge: lazy loading downloads the model's files from S3 with"
    " DataRobot's storage client; download them into the code dir before starting"
)


def _works(flag: str | None, *env: str, note: str, switch: bool = False, param: bool = False) -> DrumSetting:
    return DrumSetting(flag, env, Fate.WORKS, note, switch=switch, runtime_parameter=param)


def _inert(flag: str | None, *env: str, note: str, switch: bool = False, param: bool = False) -> DrumSetting:
    return DrumSetting(flag, env, Fate.INERT, note, switch=switch, runtime_parameter=param)


def _refused(flag: str | None, *env: str, note: str, switch: bool = False, param: bool = False) -> DrumSetting:
    return DrumSetting(flag, env, Fate.REFUSED, note, switch=switch, runtime_parameter=param)


DRUM_SETTINGS: tuple[DrumSetting, ...] = (
    # --- flags of `drum server` (in DRUM's --help order) and their environment variables
    _works("--code-dir", "CODE_DIR", note="the model's code dir (also -cd)"),
    _works("--verbose", note="logging level debug"),
    _works("--positive-class-label", "POSITIVE_CLASS_LABEL", note="binary models"),
    _works("--negative-class-label", "NEGATIVE_CLASS_LABEL", note="binary models"),
    _works("--class-labels", "CLASS_LABELS", note="multiclass and multilabel models"),
    _works("--class-labels-file", "CLASS_LABELS_FILE", note="one class label a line"),
    _works("--logging-level", note="default info (DRUM: warning)"),
    _refused("--docker", note=f"{_NOT_HERE}: it serves in this process; build your image with `pip install drum-bridge`"),
    _refused("--skip-deps-install", note=f"{_NOT_HERE}: it goes with --docker"),
    _refused("--memory", note=f"{_NOT_HERE}: it goes with --docker; limit memory in your orchestrator"),
    _refused("--show-perf", note=f"{_NOT_HERE}: /stats/ reports memory; time the server with the load scripts in benchmarks/"),
    _works("--address", "ADDRESS", note="host[:port], default port 8000"),
    _inert("--production", "PRODUCTION", switch=True, note="is deprecated in DRUM and has no effect; use --max-workers N"),
    _works("--max-workers", "MAX_WORKERS", note="worker processes on one port"),
    _works("--with-error-server", "WITH_ERROR_SERVER", switch=True, note="513 answers when the model fails to load"),
    _works("--language", note="python; other languages are refused"),
    _works("--show-stacktrace", "SHOW_STACKTRACE", switch=True, note="stack traces in the log"),
    _refused("--monitor", "MONITOR", switch=True, note=_MONITORING),
    _refused("--monitor-embedded", "MLOPS_REPORTING_FROM_UNSTRUCTURED_MODELS", switch=True, note=_MONITORING),
    _inert("--deployment-id", "DEPLOYMENT_ID", "MLOPS_DEPLOYMENT_ID", note=_MONITORING_ONLY),
    _inert("--model-id", "MODEL_ID", "MLOPS_MODEL_ID", note=_MONITORING_ONLY),
    _inert("--monitor-settings", "MONITOR_SETTINGS", note=_MONITORING_ONLY),
    _works("--allow-dr-api-access", "ALLOW_DR_API_ACCESS_FOR_ALL_CUSTOM_MODELS", switch=True,
           note="configures the datarobot client for model code (needs `pip install datarobot`)"),
    _works("--webserver", "EXTERNAL_WEB_SERVER_URL", note="DataRobot's URL, for --allow-dr-api-access"),
    _works("--api-token", "API_TOKEN", note="DataRobot API token, for --allow-dr-api-access"),
    _refused("--gpu-predictor", note=_GPU),
    _refused("--sidecar", note=f"{_NOT_HERE}: sidecar mode is served by datarobot-drum"),
    _refused("--triton-host", "TRITON_HOST", note=_GPU),
    _refused("--triton-http-port", "TRITON_HTTP_PORT", note=_GPU),
    _refused("--triton-grpc-port", "TRITON_GRPC_PORT", note=_GPU),
    _works("--target-type", "TARGET_TYPE", note="every DRUM target type"),
    _refused("--query", note=f"{_NOT_HERE}: it simulates a request for `drum score`; send the query to /predictUnstructured/"),
    _refused("--content-type", note=f"{_NOT_HERE}: it simulates a request for `drum score`; send the Content-Type header"),
    _works("--deployment-config", "DEPLOYMENT_CONFIG", note="/predict/ answers in DataRobot's prediction server shape"),
    _works("--user-secrets-mount-path", "USER_SECRETS_MOUNT_PATH", note="custom tasks' secrets, one JSON file each"),
    _works("--user-secrets-prefix", "USER_SECRETS_PREFIX", note="custom tasks' secrets from <PREFIX>_<NAME> variables"),
    _works("--runtime-params-file", "RUNTIME_PARAMS_FILE", note="YAML of runtime parameter values"),
    _refused("--lazy-loading-file", "LAZY_LOADING_FILE", note=_LAZY),
    # --- environment only
    _works(None, "URL_PREFIX", note="every route under the prefix"),
    _works(None, "TARGET_NAME", note="the prediction column of text-like target types"),
    _works(None, "DRUM_SERVER_TYPE", note="picks the preferred extension style; the server is uvicorn"),
    _inert(None, "SKIP_PREDICT", switch=True, note="belongs to `drum fit`; `drum server` ignores it too"),
    _refused(None, "MLOPS_LAZY_LOADING_DATA", note=_LAZY),
    _works(None, "OTEL_EXPORTER_OTLP_ENDPOINT", note="OpenTelemetry traces over OTLP (with drum-bridge[otel])"),
    # --- runtime parameters read as settings
    _works(None, "DRUM_SERVER_TYPE", param=True, note="as DRUM_SERVER_TYPE"),
    _works(None, "CUSTOM_MODEL_WORKERS", param=True, note="worker processes (as --max-workers)"),
    _works(None, "DRUM_CLIENT_REQUEST_TIMEOUT", param=True, note="seconds model code may take (504 past it)"),
    _works(None, "OTEL_SDK_DISABLED", param=True, note="turns OpenTelemetry traces off"),
    _works(None, "DRUM_WEBSERVER_BACKLOG", param=True, note="the listen backlog (as --backlog)"),
    _works(None, "DRUM_GUNICORN_MAX_REQUESTS", param=True, note="worker recycling (as --max-requests)"),
    _works(None, "DRUM_GUNICORN_MAX_REQUESTS_JITTER", param=True, note="as --max-requests-jitter"),
    _works(None, "DRUM_GUNICORN_GRACEFUL_TIMEOUT", param=True, note="as --graceful-timeout"),
    _works(None, "DRUM_GUNICORN_KEEP_ALIVE", param=True, note="keep-alive timeout (as --keep-alive)"),
    _inert(None, "DRUM_WORKER_CONNECTIONS", param=True,
           note="is ignored: it caps gunicorn's gevent connections per worker; uvicorn's event loop"
                " has no such cap (bound waiting model calls with --max-waiting-requests)"),
    _inert(None, "DRUM_GUNICORN_WORKER_CLASS", param=True,
           note="is ignored: drum-bridge's workers are uvicorn event loops (model code runs in threads)"),
    _inert(None, "DRUM_GUNICORN_FIRST_BYTE_TIMEOUT", param=True,
           note="is ignored: uvicorn has no first-byte timeout (slow clients wait on the event loop only)"),
    _inert(None, "DRUM_GUNICORN_LOG_LEVEL", param=True, note="is ignored: use --logging-level"),
    _refused(None, "NIM_DIRECT_ACCESS_REQUEST_TIMEOUT", param=True, note=_GPU),
)


def refused_flags() -> dict[str, str]:
    """Each refused flag's argparse destination, and why it is refused."""
    return {s.dest: s.note for s in DRUM_SETTINGS if s.fate is Fate.REFUSED and s.dest}


def _given(setting: DrumSetting, args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """How the setting was given (its flag, or an environment variable), or None."""
    if setting.dest is not None and getattr(args, setting.dest, None) not in (None, False):
        return setting.flag
    for name in setting.env_names:
        value = environ.get(name)
        if value is None or value == "":
            continue
        if setting.switch and not parse_bool(name, value):
            continue
        return name
    return None


def check_drum_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> list[str]:
    """Raise ConfigError for the first refused setting given; the lines to log for inert ones."""
    notes = []
    for setting in DRUM_SETTINGS:
        if setting.fate is Fate.WORKS:
            continue
        given = _given(setting, args, environ)
        if given is None:
            continue
        if setting.fate is Fate.REFUSED:
            raise ConfigError(f"{given} {setting.note}")
        notes.append(f"{given} {setting.note}")
    return notes

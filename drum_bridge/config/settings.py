"""One frozen, keyword-only ``Config``: every setting drum-bridge reads.

Building it has no side effects; the CLI (or a host application) gathers flags,
environment variables, runtime parameters and ``model-metadata.yaml`` and
passes the result here.  ``Config.__post_init__`` validates and raises
``ConfigError`` with a message a user can act on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..errors import ConfigError

__all__ = [
    "COUNT_SETTINGS", "LOG_FORMATS", "MISSING_TARGET_NAME", "Batching", "Config", "TargetType", "ServerType", "ExtensionStyle"
]

#: ``--log-format`` choices.
LOG_FORMATS = ("text", "json")
#: Settings that count processes or threads: whole numbers, at least 1.
COUNT_SETTINGS = ("max_workers", "model_threads", "flask_hook_threads", "wsgi_threads")


E = TypeVar("E", bound=enum.Enum)


def _parse(cls: type[E], value: str, what: str) -> E:
    """The member spelled ``value`` (any case), or an error listing the choices."""
    try:
        return cls(value.strip().lower())
    except ValueError:
        choices = ", ".join(str(member.value) for member in cls)
        raise ConfigError(f"Unknown {what} {value!r}; choose one of: {choices}") from None


class TargetType(str, enum.Enum):
    REGRESSION = "regression"
    BINARY = "binary"
    MULTICLASS = "multiclass"
    ANOMALY = "anomaly"
    TRANSFORM = "transform"
    UNSTRUCTURED = "unstructured"
    TEXT_GENERATION = "textgeneration"
    GEO_POINT = "geopoint"
    VECTOR_DATABASE = "vectordatabase"
    AGENTIC_WORKFLOW = "agenticworkflow"
    MULTILABEL = "multilabel"

    def __str__(self) -> str:
        # DRUM's messages print the member, e.g. "TargetType.REGRESSION".
        return f"TargetType.{self.name}"

    @property
    def is_classification(self) -> bool:
        """Predictions are one probability per class label."""
        return self in (TargetType.BINARY, TargetType.MULTICLASS, TargetType.MULTILABEL)

    @property
    def takes_class_labels(self) -> bool:
        """Class labels come as a list (``--class-labels``), not as a positive/negative pair."""
        return self in (TargetType.MULTICLASS, TargetType.MULTILABEL)

    @property
    def needs_target_name(self) -> bool:
        """DRUM refuses to serve these without ``TARGET_NAME``, the prediction column."""
        return self in _NAMED_TARGET

    @property
    def has_float_predictions(self) -> bool:
        """Predictions are numbers; text, vector search and geopoint ones are sent as returned."""
        return self not in _VALUE_PREDICTIONS

    @classmethod
    def parse(cls, value: str) -> TargetType:
        return _parse(cls, value, "target type")


class ExtensionStyle(str, enum.Enum):
    FASTAPI = "fastapi"
    FLASK = "flask"


class Batching(str, enum.Enum):
    """``--batching``: adaptive batching of structured ``/predict/``."""

    #: On, once the first batched calls answered every request exactly as alone.
    AUTO = "auto"
    #: On without that check.
    ON = "on"
    OFF = "off"

    @classmethod
    def parse(cls, value: str) -> Batching:
        return _parse(cls, value, "batching setting")


class ServerType(str, enum.Enum):
    """DRUM's ``DRUM_SERVER_TYPE``: here it only picks the preferred extension style.

    The server is FastAPI under uvicorn whatever the value.
    """

    FASTAPI = "fastapi"
    FLASK = "flask"
    GUNICORN = "gunicorn"
    WERKZEUG = "werkzeug"

    @property
    def preferred_extension(self) -> ExtensionStyle:
        return ExtensionStyle.FASTAPI if self is ServerType.FASTAPI else ExtensionStyle.FLASK

    @classmethod
    def parse(cls, value: str) -> ServerType:
        return _parse(cls, value, "DRUM server type")


_NAMED_TARGET = frozenset(
    {TargetType.TEXT_GENERATION, TargetType.VECTOR_DATABASE, TargetType.AGENTIC_WORKFLOW}
)
_VALUE_PREDICTIONS = _NAMED_TARGET | {TargetType.GEO_POINT}
#: DRUM's message when TARGET_NAME is missing, then what to do about it.
MISSING_TARGET_NAME = (
    "Unexpected empty target name for text generation, vector database, or agentic workflow"
    " target. Set TARGET_NAME (or inferenceModel.targetName in model-metadata.yaml) to the"
    " name of the prediction column."
)


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything one drum-bridge app needs; see the README for each setting."""

    code_dir: Path
    target_type: TargetType
    positive_class_label: str | None = None
    negative_class_label: str | None = None
    class_labels: tuple[str, ...] | None = None
    target_name: str | None = None
    #: The LLM a chat model serves (runtime parameter ``LLM_ID``): ``/models`` names it.
    llm_id: str | None = None
    url_prefix: str = ""
    host: str = "localhost"
    port: int = 8080
    #: Uvicorn worker processes on one port (``--max-workers``).
    max_workers: int = 1
    with_error_server: bool = False
    show_stacktrace: bool = False
    server_type: ServerType = ServerType.FASTAPI
    #: Load custom_fastapi.py and custom_flask.py both (Flask hooks outermost).
    load_all_extensions: bool = False
    #: Threads that run model code (score, transform, ...) at once.
    model_threads: int = 4
    #: Run Flask hooks on the event loop; only for hooks known not to block.
    flask_hooks_inline: bool = False
    #: Threads that run translated Flask hooks at once (threaded mode).
    flask_hook_threads: int = 40
    #: Threads of the a2wsgi mount: legacy Flask routes served at once.
    wsgi_threads: int = 10
    #: Seconds a SIGTERM waits for requests in flight before cancelling them.
    graceful_timeout: float = 30.0
    #: Seconds a request may wait for model code (504 past it); 0: no limit.
    #: DRUM's ``DRUM_CLIENT_REQUEST_TIMEOUT``, with DRUM's default.
    request_timeout: float = 600.0
    #: Requests that may wait for a busy model thread; past it, 503 at once.
    max_waiting_requests: int = 256
    #: Adaptive batching: ``/predict/`` requests that arrive while the model is busy share
    #: one model call (artifact models; a score hook only with ``batch_row_wise_score``).
    #: ``auto`` checks the first batched calls against the requests' answers alone and stops
    #: batching the model if one differs (BLAS may round a row's last bit differently in a batch).
    batching: Batching = Batching.AUTO
    #: The custom ``score`` hook scores each row on its own: its requests may be batched.
    batch_row_wise_score: bool = False
    #: Most rows in one batched model call (a larger request is scored alone).
    batch_max_rows: int = 1000
    #: Most requests in one batched model call.
    batch_max_requests: int = 64
    #: Milliseconds a request that found the model busy may wait for others to join it
    #: once a model thread is free; 0: it goes as soon as a thread is free.
    batch_max_wait_ms: float = 0.0
    #: Largest request headers in bytes, all together (431 past it); 0: no limit.
    max_header_size: int = 64 * 1024
    #: Largest request body in bytes (413 past it); 0: no limit.
    max_body_size: int = 100 * 1024 * 1024
    #: ``--deployment-config``: answer /predict/ in DataRobot's prediction server shape.
    deployment_config: Path | None = None
    #: ``--user-secrets-mount-path``: one JSON file per secret of a custom task.
    user_secrets_mount_path: Path | None = None
    #: ``--user-secrets-prefix``: secrets from the ``<prefix>_<NAME>`` environment variables.
    user_secrets_prefix: str | None = None
    #: ``--allow-dr-api-access``: configure the ``datarobot`` client for model code.
    allow_dr_api_access: bool = False
    #: ``--webserver``: DataRobot's URL, for the API access.
    webserver: str | None = None
    #: ``--api-token``: DataRobot API token, for the API access.
    api_token: str | None = field(default=None, repr=False)
    #: Seconds a request's headers may take to arrive (408 past it); 0: no limit.
    header_timeout: float = 30.0
    #: Seconds a request body may stop arriving (408 past it); 0: no limit.
    body_timeout: float = 60.0
    #: Serve ``/metrics`` and record Prometheus metrics.
    metrics: bool = True
    #: Log lines as text, or as one JSON object a line (``json``).
    log_format: str = "text"
    #: Log a line per request (uvicorn's access log).
    access_log: bool = True
    #: The server freezes its start-up heap (``gc.freeze()``) once the model is loaded, so
    #: that the garbage collector's full collections skip it.  A server setting: an app
    #: mounted in a host's process leaves the host's collector alone.
    gc_freeze: bool = True
    #: The server sets glibc malloc's mmap and trim thresholds to glibc's own upper bounds, so
    #: that a large request's memory is not handed back and faulted in again by the next.
    keep_freed_memory: bool = True
    #: Connections waiting to be accepted (DRUM's ``DRUM_WEBSERVER_BACKLOG``).
    backlog: int = 2048
    #: Seconds an idle keep-alive connection stays open; 0 closes it after each response
    #: (DRUM's ``DRUM_GUNICORN_KEEP_ALIVE``).
    keep_alive: float = 5.0
    #: A worker process is replaced after this many requests; 0: never
    #: (DRUM's ``DRUM_GUNICORN_MAX_REQUESTS``).
    max_requests: int = 0
    #: Up to this many more requests, drawn per worker, so workers are not replaced together.
    max_requests_jitter: int = 0
    #: ``model-metadata.yaml`` as read, shown by ``/info/``.
    model_metadata: dict[str, object] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.target_type, TargetType):
            raise ConfigError(f"target_type must be a TargetType, got {self.target_type!r}")
        if self.target_type.needs_target_name and not self.target_name:
            raise ConfigError(MISSING_TARGET_NAME)
        if not self.code_dir.is_dir():
            raise ConfigError(f"Code dir {str(self.code_dir)!r} is not a directory")
        for name in COUNT_SETTINGS:
            _positive(name, getattr(self, name))
        if isinstance(self.max_header_size, bool) or not isinstance(self.max_header_size, int) or self.max_header_size < 0:
            raise ConfigError(f"max_header_size must be a whole number of bytes, 0 or more, got {self.max_header_size!r}")
        if isinstance(self.max_body_size, bool) or not isinstance(self.max_body_size, int) or self.max_body_size < 0:
            raise ConfigError(f"max_body_size must be a whole number of bytes, 0 or more, got {self.max_body_size!r}")
        if self.request_timeout < 0:
            raise ConfigError(f"request_timeout must not be negative, got {self.request_timeout}")
        if isinstance(self.max_waiting_requests, bool) or not isinstance(self.max_waiting_requests, int) or self.max_waiting_requests < 0:
            raise ConfigError(f"max_waiting_requests must be a whole number, 0 or more, got {self.max_waiting_requests!r}")
        if not isinstance(self.batching, Batching):
            raise ConfigError(f"batching must be a Batching, got {self.batching!r}")
        for name in ("batch_max_rows", "batch_max_requests"):
            _positive(name, getattr(self, name))
        if self.batch_max_wait_ms < 0:
            raise ConfigError(f"batch_max_wait_ms must not be negative, got {self.batch_max_wait_ms}")
        if self.graceful_timeout < 0:
            raise ConfigError(f"graceful_timeout must not be negative, got {self.graceful_timeout}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        for name in ("backlog", "max_requests", "max_requests_jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a whole number, 0 or more, got {value!r}")
        for name in ("header_timeout", "body_timeout"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.keep_alive < 0:
            raise ConfigError(f"keep_alive must not be negative, got {self.keep_alive}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"Port must be between 1 and 65535, got {self.port}")
        if self.url_prefix and (
            not self.url_prefix.startswith("/") or self.url_prefix.endswith("/")
        ):
            raise ConfigError(
                f"URL prefix {self.url_prefix!r} must start with '/' and not end with '/'"
            )
        self._check_labels()

    def _check_labels(self) -> None:
        pair = (self.positive_class_label, self.negative_class_label)
        if (pair[0] is None) != (pair[1] is None):
            raise ConfigError(
                "Positive and negative class labels go together: give both or neither"
            )
        if pair[0] is not None and self.class_labels is not None:
            raise ConfigError(
                "Give either positive/negative class labels or a list of class labels, not both"
            )
        if self.target_type is TargetType.BINARY:
            if pair[0] is None and (self.class_labels is None or len(self.class_labels) != 2):
                raise ConfigError(
                    "A binary model needs --positive-class-label and --negative-class-label"
                )
            if pair[0] is not None and pair[0] == pair[1]:
                raise ConfigError("Positive and negative class labels must differ")
        elif self.target_type.takes_class_labels:
            if self.class_labels is None or len(self.class_labels) < 2:
                raise ConfigError(
                    f"A {self.target_type.value} model needs at least two class labels"
                    " (--class-labels or --class-labels-file)"
                )
            if len(set(self.class_labels)) != len(self.class_labels):
                raise ConfigError(f"Class labels must be unique: {list(self.class_labels)}")
        elif pair[0] is not None or self.class_labels is not None:
            raise ConfigError(
                f"Class labels apply to binary, multiclass and multilabel models only,"
                f" not to target type {self.target_type.value!r}"
            )

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The class labels in the order predictions list them (binary: positive first)."""
        if self.positive_class_label is not None and self.negative_class_label is not None:
            return (self.positive_class_label, self.negative_class_label)
        return self.class_labels

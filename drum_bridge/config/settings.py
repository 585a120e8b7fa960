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

__all__ = ["COUNT_SETTINGS", "Config", "TargetType", "ServerType", "ExtensionStyle"]

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

    def __str__(self) -> str:
        # DRUM's messages print the member, e.g. "TargetType.REGRESSION".
        return f"TargetType.{self.name}"

    @property
    def is_classification(self) -> bool:
        return self in (TargetType.BINARY, TargetType.MULTICLASS)

    @classmethod
    def parse(cls, value: str) -> TargetType:
        return _parse(cls, value, "target type")


class ExtensionStyle(str, enum.Enum):
    FASTAPI = "fastapi"
    FLASK = "flask"


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


#: Known to DRUM and to drum-bridge's routes, but not yet served (score_unstructured, chat).
_NOT_YET_SERVED = frozenset({TargetType.UNSTRUCTURED, TargetType.TEXT_GENERATION})


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
    #: ``model-metadata.yaml`` as read, shown by ``/info/``.
    model_metadata: dict[str, object] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.target_type, TargetType):
            raise ConfigError(f"target_type must be a TargetType, got {self.target_type!r}")
        if self.target_type in _NOT_YET_SERVED:
            raise ConfigError(
                f"Target type {self.target_type.value!r} is not served by this release of"
                " drum-bridge yet (unstructured and text generation models come next)"
            )
        if not self.code_dir.is_dir():
            raise ConfigError(f"Code dir {str(self.code_dir)!r} is not a directory")
        for name in COUNT_SETTINGS:
            _positive(name, getattr(self, name))
        if self.graceful_timeout < 0:
            raise ConfigError(f"graceful_timeout must not be negative, got {self.graceful_timeout}")
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
        elif self.target_type is TargetType.MULTICLASS:
            if self.class_labels is None or len(self.class_labels) < 2:
                raise ConfigError(
                    "A multiclass model needs at least two class labels"
                    " (--class-labels or --class-labels-file)"
                )
            if len(set(self.class_labels)) != len(self.class_labels):
                raise ConfigError(f"Class labels must be unique: {list(self.class_labels)}")
        elif pair[0] is not None or self.class_labels is not None:
            raise ConfigError(
                f"Class labels apply to binary and multiclass models only,"
                f" not to target type {self.target_type.value!r}"
            )

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The class labels in the order predictions list them (binary: positive first)."""
        if self.positive_class_label is not None and self.negative_class_label is not None:
            return (self.positive_class_label, self.negative_class_label)
        return self.class_labels

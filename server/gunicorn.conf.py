"""gunicorn settings serving drum-bridge's app as ``drum server`` serves it.

    gunicorn -c server/gunicorn.conf.py

There are no flags: every setting comes from the environment ``drum server`` reads
(``CODE_DIR``, ``ADDRESS``, ``TARGET_TYPE``, ``MAX_WORKERS``, ``DRUM_BRIDGE_*``, runtime
parameters such as ``DRUM_GUNICORN_MAX_REQUESTS``, ...).  The Config is built exactly as
``drum server`` builds it and handed to the workers through the environment; each worker
serves ``drum_bridge.server.process:app_factory()`` under uvicorn-worker with ``drum
server``'s uvicorn options and logging.  The Config's process settings become gunicorn's:
the address (``bind``), ``--max-workers`` (``workers``), ``--graceful-timeout``,
``--backlog``, ``--keep-alive``, ``--max-requests`` and its jitter.

``drum server`` has ``--logging-level``; here the level is DRUM's runtime parameter
``DRUM_GUNICORN_LOG_LEVEL`` (default info), as for DRUM's own gunicorn.

Settings given on gunicorn's command line override these; prefer the environment, which
``drum server`` reads too.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# prometheus-client chooses its multiprocess mode when it is imported, and gunicorn's
# workers are forks of this process: one scrape sees every worker only if the directory
# is named before drum-bridge (and so prometheus-client) is imported.  Made here, it is
# removed when this process (gunicorn's master) exits; one named already is used as it is.
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _remove_metrics_dir(path: str, master: int) -> None:
    if os.getpid() == master:  # the workers, forks of the master, inherit this handler
        shutil.rmtree(path, ignore_errors=True)


if not os.environ.get(_MULTIPROC_ENV):
    os.environ[_MULTIPROC_ENV] = tempfile.mkdtemp(prefix="drum-bridge-metrics-")
    atexit.register(_remove_metrics_dir, os.environ[_MULTIPROC_ENV], os.getpid())

import logging.config  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]  # noqa: E402

from drum_bridge.cli import build_parser, config_from_server_args  # noqa: E402
from drum_bridge.config import Config  # noqa: E402
from drum_bridge.config.runtime_parameters import PREFIX, read_runtime_param  # noqa: E402
from drum_bridge.errors import ConfigError, DrumBridgeError  # noqa: E402
from drum_bridge.observability.metrics import forget_process  # noqa: E402
from drum_bridge.server.logging_config import LOG_LEVELS, logging_config  # noqa: E402
from drum_bridge.server.process import server_options  # noqa: E402
from drum_bridge.server.worker_config import CONFIG_ENV, encode_config  # noqa: E402

# Only gunicorn's setting and hook names are public in this file: gunicorn reads every
# module-level name that is one of its settings (``config`` is one, hence ``_config``).

#: Seconds a worker may go without a heartbeat, model loading included, before gunicorn
#: replaces it (DRUM's gunicorn default).  Model calls run in threads and do not block it.
_WORKER_TIMEOUT = 600
#: Seconds gunicorn gives a worker past the requests' grace (``--graceful-timeout``, which
#: uvicorn applies) to finish its shutdown, before it kills it.
_SHUTDOWN_MARGIN = 2
_LOG_LEVEL_PARAM = "DRUM_GUNICORN_LOG_LEVEL"
#: ``drum server``'s uvicorn options that gunicorn applies itself: it binds the listening
#: socket, configures logging, and draws each worker's ``max_requests`` (with the jitter).
_GUNICORN_OWNS = frozenset({"host", "port", "log_config", "backlog", "limit_max_requests"})


def _stop(exc: DrumBridgeError) -> NoReturn:
    """Stop gunicorn as ``drum server`` stops on a bad setting: one line, exit status 2."""
    print(f"drum: error: {exc}", file=sys.stderr)
    sys.exit(2)


def _log_level() -> str:
    value = read_runtime_param(_LOG_LEVEL_PARAM, os.environ)
    if value is None or value == "":
        return LOG_LEVELS["info"]
    level = LOG_LEVELS.get(str(value).strip().lower())
    if level is None:
        raise ConfigError(
            f"{PREFIX}{_LOG_LEVEL_PARAM} must be one of {', '.join(LOG_LEVELS)}, got {value!r}"
        )
    return level


@contextmanager
def _log_level_honoured() -> Iterator[None]:
    """``drum server`` logs that DRUM_GUNICORN_LOG_LEVEL is ignored (it has
    --logging-level); here it is honoured, so its check does not see it."""
    name = PREFIX + _LOG_LEVEL_PARAM
    saved = os.environ.pop(name, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[name] = saved  # model code may read its runtime parameters


def _drum_server_config(level: str) -> Config:
    """The Config ``drum server`` builds from this environment."""
    args = build_parser().parse_args(["server"])
    logging.config.dictConfig(logging_config(level))
    with _log_level_honoured():
        return config_from_server_args(args)


def _logging(config: Config, level: str) -> dict[str, Any]:
    """``drum server``'s logging configuration, gunicorn's own loggers included.

    uvicorn-worker hands uvicorn's loggers gunicorn's handlers: these are drum-bridge's.
    """
    settings = logging_config(level, config.log_format, config.access_log)
    loggers = settings["loggers"]
    loggers["gunicorn.error"] = {"handlers": ["default"], "level": level, "propagate": False}
    loggers["gunicorn.access"] = dict(loggers["uvicorn.access"])
    return settings


try:
    _level = _log_level()
    _config = _drum_server_config(_level)
except DrumBridgeError as exc:
    _stop(exc)
# The workers build their app from this, as ``drum server``'s workers do.
os.environ[CONFIG_ENV] = encode_config(_config)


class DrumBridgeWorker(UvicornWorker):  # type: ignore[misc]  # uvicorn-worker has no types
    """uvicorn-worker with the uvicorn options ``drum server`` serves with."""

    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        **{
            name: value
            for name, value in server_options(_config, _level).items()
            if name not in _GUNICORN_OWNS
        },
    }


wsgi_app = "drum_bridge.server.process:app_factory()"
worker_class = DrumBridgeWorker
bind = [f"{_config.host}:{_config.port}"]
workers = _config.max_workers
graceful_timeout = math.ceil(_config.graceful_timeout) + _SHUTDOWN_MARGIN
timeout = _WORKER_TIMEOUT
# The connections' keep-alive timeout is uvicorn's, which DrumBridgeWorker sets (it may be
# a fraction of a second); gunicorn's own, unused by uvicorn-worker then, says the same.
keepalive = math.ceil(_config.keep_alive)
backlog = _config.backlog
max_requests = _config.max_requests
max_requests_jitter = _config.max_requests_jitter
loglevel = _level.lower()
logconfig_dict = _logging(_config, _level)
# gunicorn 27's control socket sits at one path per user ($HOME/.gunicorn/gunicorn.ctl), so
# two servers on a host would share it; ``drum server`` has no such interface either.
control_socket_disable = True


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live gauges stop counting in the metrics of the others."""
    forget_process(worker.pid)

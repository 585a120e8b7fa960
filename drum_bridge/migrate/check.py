"""``--check``: serve custom_flask.py and custom_fastapi.py side by side, compare their answers.

Two apps from ``create_app``, in this process: one on a copy of the code dir
holding only custom_flask.py, one holding only custom_fastapi.py (other files
are linked, not copied).  Each gets the same requests (``probes``); for each,
the status, the headers the hooks set and the body are compared:

- headers: ``Content-Type``, ``Location``, ``Allow``, ``WWW-Authenticate``,
  those the hooks set, and with flask-cors the ``Access-Control-*`` answers as a
  browser reads them (``*`` and the request's own origin both allow it; lists
  compared as sets; an origin refused makes the rest moot), only on requests
  that carry an ``Origin``;
- bodies: JSON as values (key order and a trailing newline do not matter),
  anything else byte for byte, the copies' paths (``/info/``) read as the code
  dir; ``/stats/`` (counters that move) is not compared;
- a CORS preflight is compared on the ``Access-Control-*`` answers a browser
  reads from it (not ``-Expose-Headers``), not on its status and body:
  CORSMiddleware answers preflights itself where Flask did (the report says so).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..app import DrumApp, create_app
from ..errors import DrumBridgeError
from .asgi_call import Answer, asgi_call
from .extension_model import FlaskExtension
from .probes import Probe, generate_probes

__all__ = ["CheckResult", "Difference", "check_extension"]

FLASK_FILE = "custom_flask.py"
FASTAPI_FILE = "custom_fastapi.py"
COMPARED_HEADERS = ("content-type", "location", "allow", "www-authenticate")
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers",
                "access-control-allow-credentials", "access-control-expose-headers")
VOLATILE_BODIES = ("/stats/",)


@dataclass(frozen=True)
class Difference:
    probe: Probe
    what: str
    flask: str
    fastapi: str

    def describe(self) -> str:
        return f"{self.probe.describe()}: {self.what} {self.flask} ({FLASK_FILE}) != {self.fastapi} ({FASTAPI_FILE})"


@dataclass
class CheckResult:
    requests: int = 0
    preflights: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def alike(self) -> bool:
        return not self.differences


def _has_extension(folder: Path) -> bool:
    return any(folder.rglob(FLASK_FILE)) or any(folder.rglob(FASTAPI_FILE))


def _mirror(source: Path, dest: Path) -> None:
    """``dest`` as ``source`` without its extension files; other files are links, not copies."""
    for entry in source.iterdir():
        if entry.name in (FLASK_FILE, FASTAPI_FILE) and entry.is_file():
            continue
        if entry.is_dir() and not entry.is_symlink() and _has_extension(entry):
            (dest / entry.name).mkdir()
            _mirror(entry, dest / entry.name)
        else:
            os.symlink(entry.resolve(), dest / entry.name, target_is_directory=entry.is_dir())


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _code_dir_with(code_dir: Path, flask_path: Path, name: str, text: str) -> Iterator[Path]:
    """A copy of ``code_dir`` with only extension file ``name``, holding ``text``."""
    with tempfile.TemporaryDirectory(prefix=f"drum-bridge-migrate-{name.split('.')[0]}-") as tmp:
        root = Path(tmp)
        _mirror(code_dir, root)
        place = root / flask_path.parent.relative_to(code_dir) / name
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_text(text, encoding="utf-8")
        yield root


def _body(answer: Answer, root: Path) -> bytes:
    """The body, with the copy's path spelled as the code dir (``/info/`` names it)."""
    return answer.body.replace(str(root).encode(), b"<code dir>")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def _cors_value(name: str, value: str | None, origin: str | None) -> str | None:
    if value is None:
        return None
    if name == "access-control-allow-origin":
        return "allowed" if value in ("*", origin) else value
    if name.endswith(("-methods", "-headers")):
        return ", ".join(sorted({v.strip().lower() for v in value.split(",") if v.strip()}))
    return value


def _headers(probe: Probe, response: Answer, ext: FlaskExtension) -> dict[str, str | None]:
    origin = dict((k.lower(), v) for k, v in probe.headers).get("origin")
    names = [] if probe.preflight else [*COMPARED_HEADERS, *sorted(h.lower() for h in ext.headers_set)]
    out: dict[str, str | None] = {name: response.headers.get(name) for name in names}
    if ext.cors is not None and origin is not None:
        # Browsers read Access-Control-Expose-Headers on actual responses only, not on preflights.
        cors = [n for n in CORS_HEADERS if not (probe.preflight and n == "access-control-expose-headers")]
        answers = {name: _cors_value(name, response.headers.get(name), origin) for name in cors}
        if answers["access-control-allow-origin"] != "allowed":
            # A browser refuses the origin and reads nothing else.
            answers = dict.fromkeys(cors, "refused")
        out |= answers
    return out


def _compare(probe: Probe, flask: Answer, fastapi: Answer, ext: FlaskExtension,
             roots: tuple[Path, Path]) -> list[Difference]:
    found: list[Difference] = []
    if not probe.preflight and flask.status != fastapi.status:
        found.append(Difference(probe, "status", str(flask.status), str(fastapi.status)))
    flask_headers, fastapi_headers = _headers(probe, flask, ext), _headers(probe, fastapi, ext)
    for name in flask_headers:
        if flask_headers[name] != fastapi_headers[name]:
            found.append(Difference(probe, f"header {name}", repr(flask_headers[name]), repr(fastapi_headers[name])))
    if probe.preflight or probe.path in VOLATILE_BODIES or probe.method == "HEAD":
        return found
    a, b = _body(flask, roots[0]), _body(fastapi, roots[1])
    if a != b and (_json(a) != _json(b) or isinstance(_json(a), bytes)):
        found.append(Difference(probe, "body", repr(a[:120]), repr(b[:120])))
    return found


def _app(root: Path, code_dir: Path, name: str, target_type: str, settings: dict[str, Any]) -> DrumApp:
    try:
        return create_app(code_dir=root, target_type=target_type, **settings)
    except DrumBridgeError as exc:
        message = str(exc).replace(str(root), str(code_dir))
        raise DrumBridgeError(f"{name} cannot be served, so it cannot be compared: {message}") from exc


async def _send_all(flask: DrumApp, fastapi: DrumApp, probes: list[Probe], ext: FlaskExtension,
                    roots: tuple[Path, Path]) -> list[Difference]:
    differences: list[Difference] = []
    async with flask.lifespan_context(), fastapi.lifespan_context():
        for probe in probes:
            answers = [await asgi_call(app, probe.method, probe.path, probe.headers) for app in (flask, fastapi)]
            differences += _compare(probe, answers[0], answers[1], ext, roots)
    return differences


def check_extension(code_dir: Path, flask_path: Path, fastapi_source: str, ext: FlaskExtension, *,
                    target_type: str, settings: dict[str, Any] | None = None) -> CheckResult:
    """Send every probe to both apps and collect the differences (``ExtensionError`` if one cannot load)."""
    settings = dict(settings or {})
    probes = generate_probes(ext)
    result = CheckResult(requests=len(probes), preflights=sum(p.preflight for p in probes))
    flask_text = flask_path.read_text(encoding="utf-8")
    with ExitStack() as stack:
        # The requests are meant to fail in many ways; the differences say what matters.
        stack.enter_context(_quiet(logging.getLogger("drum_bridge")))
        roots = (stack.enter_context(_code_dir_with(code_dir, flask_path, FLASK_FILE, flask_text)),
                 stack.enter_context(_code_dir_with(code_dir, flask_path, FASTAPI_FILE, fastapi_source)))
        flask, fastapi = (_app(root, code_dir, name, target_type, settings)
                          for root, name in zip(roots, (FLASK_FILE, FASTAPI_FILE), strict=True))
        result.differences = asyncio.run(_send_all(flask, fastapi, probes, ext, roots))
    return result

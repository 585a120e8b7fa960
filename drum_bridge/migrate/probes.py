"""The requests ``--check`` sends to both apps, generated from what custom_flask.py looks at.

Every DRUM route with its methods, ``HEAD``, ``OPTIONS`` and one method it
refuses; spellings one step away from a route (no trailing slash, a doubled
slash, upper case, a query string); unknown paths; the file's own routes with
their methods.  Each goes once without and once with each header the hooks
read, set to each value the file compares with (and a wrong one); with
flask-cors, with an ``Origin`` and as a CORS preflight; with flask-httpauth,
with ``Authorization`` tokens.  No request has a body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..routes.route_table import DRUM_RULES
from .extension_model import FlaskExtension

__all__ = ["Probe", "generate_probes", "ORIGIN"]

ORIGIN = "https://example.com"
WRONG = "wrong-value"
SPELLED = ("/", "/ping/", "/info/", "/predict/", "/invocations", "/health/")
UNKNOWN = ("/no-such-route", "/v2/predict/")


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def preflight(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return self.method == "OPTIONS" and {"origin", "access-control-request-method"} <= names

    def describe(self) -> str:
        given = ", ".join(f"{name}: {value}" for name, value in self.headers)
        return f"{self.method} {self.path}" + (f" [{given}]" if given else "")


def _spellings(path: str) -> list[str]:
    spelled = [path.rstrip("/") if path.endswith("/") and path != "/" else path + "/", "/" + path, path.upper()]
    spelled.append(path + "?next=/info/")
    return [p for p in dict.fromkeys(spelled) if p and p != path]


def _paths(ext: FlaskExtension) -> list[tuple[str, tuple[str, ...]]]:
    """(path, methods) for every request line, before headers are added."""
    lines: list[tuple[str, tuple[str, ...]]] = []
    for rule in DRUM_RULES:
        path = rule.path.replace("<path:path>", "x/y")
        refused = "GET" if "GET" not in rule.methods else "POST"
        extra = ("HEAD",) if "GET" in rule.methods else ()
        lines.append((path, (*rule.methods, *extra, "OPTIONS", refused)))
    for path in SPELLED:
        lines += [(spelled, ("GET", "POST")) for spelled in _spellings(path)]
    lines += [(path, ("GET", "POST", "OPTIONS")) for path in UNKNOWN]
    for route in ext.routes:
        prefix = ext.blueprints.get(route.router, ("", ""))[1]
        path = prefix.rstrip("/") + re.sub(r"<(?:int:|float:)(\w+)>", "1", route.path)
        path = re.sub(r"<(?:\w+:)?\w+>", "x", path)
        extra = ("HEAD",) if "GET" in route.methods else ()
        lines.append((path, (*route.methods, *extra)))
    return lines


def _header_sets(ext: FlaskExtension) -> list[tuple[tuple[str, str], ...]]:
    values = [*ext.values, WRONG]
    sets: list[tuple[tuple[str, str], ...]] = [()]
    for name in sorted(ext.headers_read):
        sets += [((name, value),) for value in values]
    if len(ext.headers_read) > 1:
        sets += [tuple((name, value) for name in sorted(ext.headers_read)) for value in values]
    for auth in ext.names.token_auths.values():
        header = auth.header or "Authorization"
        prefix = "" if auth.header else f"{auth.scheme} "
        sets += [((header, f"{prefix}{value}"),) for value in values]
        if not auth.header:
            sets.append((("Authorization", "Basic dXNlcjpwdw=="),))
    sets += [(("Origin", origin),) for origin in _origins(ext)]
    return list(dict.fromkeys(sets))


def _origins(ext: FlaskExtension) -> list[str]:
    """With flask-cors: any origin, and the origins it names."""
    if ext.cors is None:
        return []
    named = re.findall(r"""['"](https?://[^'"]+)['"]""", ext.cors.get("origins", ""))
    return [ORIGIN, *named]


def generate_probes(ext: FlaskExtension) -> list[Probe]:
    """Every request to send, each once."""
    probes: list[Probe] = []
    header_sets = _header_sets(ext)
    for path, methods in _paths(ext):
        for method in dict.fromkeys(methods):
            probes += [Probe(method, path, headers) for headers in header_sets]
            if method == "OPTIONS":
                probes += [Probe("OPTIONS", path, (("Origin", origin), ("Access-Control-Request-Method", "POST"),
                                                   ("Access-Control-Request-Headers", "X-Custom")))
                           for origin in _origins(ext)]
    return list(dict.fromkeys(probes))

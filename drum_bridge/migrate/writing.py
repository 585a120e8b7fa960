"""Writing custom_fastapi.py from a read custom_flask.py (``reading.FlaskExtension``).

Hooks become pure ASGI middleware classes (one per hook, each calling a plain
function holding the translated hook), routes an ``APIRouter`` per blueprint,
flask-cors ``CORSMiddleware``, flask-httpauth's ``HTTPTokenAuth`` a function
finding the user plus a FastAPI dependency.  What is not translated is a place
marked ``TODO(drum-bridge migrate)`` quoting the original code.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap

from .extension_model import FlaskExtension, Hook, Route, fastapi_path
from .report import Finding, Kind, Verdict
from .translating import TokenAuth

__all__ = ["TODO", "write_fastapi_extension"]

TODO = "TODO(drum-bridge migrate)"
FLASK_CORS_METHODS = ["GET", "HEAD", "POST", "OPTIONS", "PUT", "PATCH", "DELETE"]

IMPORTS = {
    "Any": "from typing import Any",
    "APIRouter": "from fastapi import APIRouter",
    "Depends": "from fastapi import Depends",
    "FastAPI": "from fastapi import FastAPI",
    "HTTPException": "from fastapi import HTTPException",
    "Request": "from fastapi import Request",
    "CORSMiddleware": "from fastapi.middleware.cors import CORSMiddleware",
    "run_in_threadpool": "from starlette.concurrency import run_in_threadpool",
    "JSONResponse": "from starlette.responses import JSONResponse",
    "Response": "from starlette.responses import Response",
    "ASGIApp": "from starlette.types import ASGIApp",
    "Message": "from starlette.types import Message",
    "Receive": "from starlette.types import Receive",
    "Scope": "from starlette.types import Scope",
    "Send": "from starlette.types import Send",
    "ResponseStart": "from drum_bridge.migrate.support import ResponseStart",
    "flask_endpoint": "from drum_bridge.migrate.support import flask_endpoint",
}

BEFORE_CLASS = '''
class {cls}:
    """Runs {func}() before every request, as Flask's before_request did: its answer ends the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = {call}
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
'''
AFTER_CLASS = '''
class {cls}:
    """Runs {func}() on every response's status and headers, as Flask's after_request did."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)

        async def send_after_hook(message: Message) -> None:
            if message["type"] == "http.response.start":
                {call}
            await send(message)

        await self.app(scope, receive, send_after_hook)
'''
TEARDOWN_CLASS = '''
class {cls}:
    """Runs {func}() when a request ends, with its error if it failed, as Flask's teardown_request did."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            error = exc
            raise
        finally:
            {call}
'''
TODO_CLASS = '''
class {cls}:
    """{todo}: the {kind} hook {func}() is not translated yet.

    Until it is, this passes every request through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # {todo}: do here what {func}() did (quoted above),
        # then run `drum-bridge migrate --check`.
        await self.app(scope, receive, send)
'''


def _quote(finding: Finding) -> str:
    lines = [f"# {TODO}: {finding.kind.value} {finding.name} (line {finding.line}) was not translated:",
             f"#     {finding.reason}"]
    if finding.source:
        lines.append("# The original:")
        lines += [f"#     {line}".rstrip() for line in textwrap.dedent(finding.source).splitlines()]
    return "\n".join(lines)


def _function(hook: Hook, body: list[ast.stmt]) -> str:
    """The translated hook as a plain function of the request (or of the error, for teardown)."""
    node, kind = hook.func, hook.finding.kind
    if kind is Kind.BEFORE_REQUEST:
        params, returns = "request: Request", "Response | None"
        if not body or not isinstance(body[-1], ast.Return):
            body = [*body, ast.Return(ast.Constant(None))]
    elif kind is Kind.AFTER_REQUEST:
        response = node.args.args[0].arg if node.args.args else "response"
        params, returns = f"request: Request, {response}: ResponseStart", "None"
    else:
        error = node.args.args[0].arg if node.args.args else "error"
        params, returns = f"{error}: BaseException | None", "None"
    body = [stmt for stmt in body if not isinstance(stmt, ast.Pass)]
    if kind is not Kind.BEFORE_REQUEST and body and isinstance(body[-1], ast.Return):
        body = body[:-1]  # the ``return response`` Flask needed
    code = textwrap.indent("\n".join(ast.unparse(stmt) for stmt in body) or "pass", "    ")
    doc = f'    """custom_flask.py\'s {kind.value} hook {node.name}() (line {node.lineno}), translated."""'
    is_async = isinstance(node, ast.AsyncFunctionDef)
    return f"{'async ' if is_async else ''}def {node.name}({params}) -> {returns}:\n{doc}\n{code}\n"


def _hook(hook: Hook) -> str:
    node, kind, cls = hook.func, hook.finding.kind, hook.class_name
    if hook.code is None:
        return f"\n\n{_quote(hook.finding)}" + TODO_CLASS.format(cls=cls, func=node.name, kind=kind.value, todo=TODO)
    args = {Kind.BEFORE_REQUEST: "Request(scope)", Kind.AFTER_REQUEST: "request, ResponseStart(message)",
            Kind.TEARDOWN_REQUEST: "error"}[kind]
    # Sync hooks may block (a database, a file): they run in a worker thread, never on the event loop.
    is_async = isinstance(node, ast.AsyncFunctionDef)
    call = f"await {node.name}({args})" if is_async else f"await run_in_threadpool({node.name}, {args})"
    template = {Kind.BEFORE_REQUEST: BEFORE_CLASS, Kind.AFTER_REQUEST: AFTER_CLASS,
                Kind.TEARDOWN_REQUEST: TEARDOWN_CLASS}[kind]
    return "\n\n" + _function(hook, hook.code) + "\n" + template.format(cls=cls, func=node.name, call=call)


def _token_auth(auth: TokenAuth) -> str:
    if auth.header:
        read = f"token = request.headers.get({auth.header!r}, '')"
    else:
        read = (f"scheme, _, token = request.headers.get('Authorization', '').strip().partition(' ')\n"
                f"    if scheme.lower() != {auth.scheme.lower()!r}:\n        token = ''")
    challenge = f'{auth.scheme} realm="{auth.realm}"'
    return f'''

def {auth.var}_user(request: Request) -> Any:
    """flask-httpauth's HTTPTokenAuth {auth.var}: what {auth.verify}() returns for the request's token."""
    {read}
    return {auth.verify}(token.strip())


def {auth.var}_refusal() -> Response:
    """flask-httpauth's default answer to a request without a valid token."""
    return Response("Unauthorized Access", status_code=401, media_type="text/html",
                    headers={{"WWW-Authenticate": {challenge!r}}})


def require_{auth.var}(request: Request) -> Any:
    """A FastAPI dependency: the user, as @{auth.var}.login_required required one on a view."""
    user = {auth.var}_user(request)
    if request.method != "OPTIONS" and user in (False, None):
        raise HTTPException(
            401, "Unauthorized Access", headers={{"WWW-Authenticate": {challenge!r}}}
        )
    return user
'''


def _route(route: Route) -> str:
    node, body = route.func, route.code
    if body is None:
        return f"\n\n{_quote(route.finding)}\n"
    converters = {name: kind for kind, name in re.findall(r"<(?:(\w+):)?(\w+)>", route.path)}
    types = {"int": "int", "float": "float"}
    params = ["request: Request"] + [f"{a.arg}: {types.get(converters.get(a.arg, ''), 'str')}" for a in node.args.args]
    # Flask answers HEAD on every GET route; FastAPI only where it is listed.
    methods = list(route.methods) + (["HEAD"] if "GET" in route.methods and "HEAD" not in route.methods else [])
    deps = f", dependencies=[Depends(require_{route.auth.var})]" if route.auth else ""
    code = textwrap.indent("\n".join(ast.unparse(stmt) for stmt in body) or "pass", "    ")
    is_async = isinstance(node, ast.AsyncFunctionDef)
    return (f"\n\n@{route.router}.api_route({fastapi_path(route.path)!r}, methods={methods!r},"
            f" name={route.endpoint!r}{deps})\n"
            f"{'async ' if is_async else ''}def {node.name}({', '.join(params)}) -> Response:\n"
            f'    """custom_flask.py\'s view {route.endpoint} (line {node.lineno})."""\n{code}\n')


def _cors(options: dict[str, str]) -> str:
    mapped = {"origins": "allow_origins", "methods": "allow_methods", "allow_headers": "allow_headers",
              "expose_headers": "expose_headers", "supports_credentials": "allow_credentials", "max_age": "max_age"}
    # flask-cors's defaults: any origin and request header, these methods.
    values = {"allow_origins": "['*']", "allow_methods": repr(FLASK_CORS_METHODS), "allow_headers": "['*']"}
    for name, text in options.items():
        if name in mapped:
            values[mapped[name]] = f"[{text}]" if text.startswith(("'", '"')) else text
    args = "".join(f"\n    {k}={v}," for k, v in values.items())
    return f"app.add_middleware(\n    CORSMiddleware,{args}\n)"


def _init_app(ext: FlaskExtension) -> str:
    lines: list[str] = []
    for var in ext.registered:
        prefix = ext.blueprints[var][1]
        lines.append(f"app.include_router({var}, prefix={prefix!r})" if prefix else f"app.include_router({var})")
    if any(r.router == "router" for r in ext.routes):
        lines.append("app.include_router(router)")
    # Flask runs before_request hooks in order, after_request hooks in reverse order, on every
    # response (a before hook's answer too): after hooks (and CORS) wrap the before hooks.
    layers = [_cors(ext.cors or {}) if isinstance(item, Finding) else f"app.add_middleware({item.class_name})"
              for item in ext.order if isinstance(item, Finding) or item.finding.kind is not Kind.BEFORE_REQUEST]
    layers += [f"app.add_middleware({item.class_name})" for item in ext.order
               if isinstance(item, Hook) and item.finding.kind is Kind.BEFORE_REQUEST]
    if layers:
        lines.append("# The last middleware added runs first: these run in custom_flask.py's order.")
        lines += reversed(layers)
    for finding in ext.report.findings:
        if finding.in_init_app:
            lines.append(_quote(finding))
    if not any(not line.startswith("#") for text in lines for line in text.splitlines()):
        lines.append("pass")
    return "\n\ndef init_app(app: FastAPI) -> None:\n" + textwrap.indent("\n".join(lines), "    ") + "\n"


def _isort_key(name: str) -> tuple[int, str]:
    """isort's order by type: CONSTANTS, Classes, functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name.lower())


def _imports(body: str, carried: list[ast.Import | ast.ImportFrom]) -> str:
    """The imports: the file's own (carried over) and those ``body`` uses, grouped as isort does."""
    used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    modules: dict[str, list[str]] = {}
    for name, line in IMPORTS.items():
        if name in used:
            modules.setdefault(line.split()[1], []).append(name)
    lines = [(m, f"from {m} import {', '.join(sorted(names, key=_isort_key))}") for m, names in modules.items()]
    for stmt in carried:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        module = stmt.names[0].name if isinstance(stmt, ast.Import) else "." * stmt.level + (stmt.module or "")
        lines.append((module, ast.unparse(stmt)))
    groups: list[list[str]] = [[], [], []]
    for module, line in lines:
        top = module.split(".")[0]
        groups[2 if module.startswith(".") else 0 if top in sys.stdlib_module_names else 1].append(line)
    # isort: ``import x`` before ``from x import``, each sorted by module.
    ordered = [sorted(dict.fromkeys(g), key=lambda line: (line.startswith("from"), line.split()[1].lower()))
               for g in groups]
    return "\n\n".join("\n".join(group) for group in ordered if group)


def write_fastapi_extension(ext: FlaskExtension, flask_name: str = "custom_flask.py") -> str:
    """The source of custom_fastapi.py for ``ext``."""
    parts: list[str] = []
    carried = [ast.unparse(stmt) for stmt in ext.carried if not isinstance(stmt, (ast.Import, ast.ImportFrom))
               and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]
    if carried:
        parts.append("\n\n# Carried over from " + flask_name + " as it was.\n" + "\n\n\n".join(carried) + "\n")
    for auth in ext.names.token_auths.values():
        if auth.verify:
            parts.append(_token_auth(auth))
    for hook in ext.hooks:
        parts.append(_hook(hook))
    for var in ext.registered:
        parts.append(f"\n\n{var} = APIRouter()  # the blueprint {ext.blueprints[var][0]!r}\n")
    if any(r.router == "router" for r in ext.routes):
        parts.append("\n\nrouter = APIRouter()  # the routes added on the Flask app itself\n")
    # werkzeug tries rules without converters first; FastAPI tries routes in order.
    for route in sorted(ext.routes, key=lambda r: "<" in r.path):
        parts.append(_route(route))
    # Everything else not translated (extensions, blueprint hooks, error handlers): quoted here.
    written = {id(h.finding) for h in ext.hooks} | {id(r.finding) for r in ext.routes}
    for finding in ext.report.findings:
        if finding.verdict is Verdict.NOT_TRANSLATABLE and not finding.in_init_app and id(finding) not in written:
            parts.append("\n\n" + _quote(finding) + "\n")
    parts.append(_init_app(ext))
    body = "".join(parts)
    imports = [s for s in ext.carried if isinstance(s, (ast.Import, ast.ImportFrom))]
    header = (f'"""custom_fastapi.py, generated by `drum-bridge migrate` from {flask_name}.\n\n'
              f"Compare it with the original: drum-bridge migrate --check --code-dir <this dir>\n"
              f'Places marked {TODO} need your hand.\n"""\n\n'
              "from __future__ import annotations\n\n")
    body = body.lstrip("\n")
    # As isort spaces them: two blank lines before a def or class, else one.
    first = next((line for line in body.splitlines() if line and not line.startswith("#")), "")
    gap = "\n\n\n" if first.startswith(("def ", "async def ", "class ", "@")) else "\n\n"
    return header + _imports(body, imports) + gap + body

"""Reading a custom_flask.py with ``ast`` (never running it): its hooks, routes and extensions.

``read_flask_extension(source, path)`` returns a ``FlaskExtension``: the report
(``report.Finding`` per piece, with its verdict) and what ``writing`` needs to
generate the FastAPI side.  Each hook and route is tried through the
translator here, so the report's verdicts are the ones the written file keeps.
"""

from __future__ import annotations

import ast
import copy
import textwrap

from .extension_model import (
    KNOWN_EXTENSIONS,
    FlaskExtension,
    Function,
    Hook,
    Route,
    fastapi_path,
    middleware_name,
)
from .report import Finding, Kind, Report, Verdict
from .translating import FlaskNames, HookRole, TokenAuth, translate_function

__all__ = ["read_flask_extension"]

HOOK_KINDS = {
    "before_request": Kind.BEFORE_REQUEST,
    "after_request": Kind.AFTER_REQUEST,
    "teardown_request": Kind.TEARDOWN_REQUEST,
}
ROUTE_METHODS = {"route": None, "get": "GET", "post": "POST", "put": "PUT", "delete": "DELETE", "patch": "PATCH"}
def _call_name(node: ast.expr) -> tuple[str, str] | None:
    """``a.b`` or ``a.b(...)`` -> ("a", "b")."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def _literal_str(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


class _Reader:
    def __init__(self, source: str, path: str) -> None:
        self.tree = ast.parse(source, filename=path)
        self.source = source
        self.ext = FlaskExtension(Report(path), self.tree, FlaskNames())
        self.names = self.ext.names
        self.functions: dict[str, Function] = {}
        #: ``cors = CORS(...)`` objects, applied by ``cors.init_app(app)``.
        self.cors_objects: dict[str, ast.Call] = {}

    def quote(self, node: ast.stmt | ast.expr) -> str:
        """The original text of ``node``, decorators included."""
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        lines = self.source.splitlines()[first - 1:node.end_lineno or node.lineno]
        return textwrap.dedent("\n".join(lines)) if lines else ast.unparse(node)

    # -- module level --------------------------------------------------------------------
    def read(self) -> FlaskExtension:
        init_app = None
        self._find_flask_helpers()
        for stmt in self.tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "init_app":
                init_app = stmt
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt)
            elif isinstance(stmt, ast.Assign) and self._flask_object(stmt):
                continue
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.decorator_list:
                self._decorated(stmt, self.ext.names.app_name, module_level=True)
            else:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.functions[stmt.name] = stmt
                self.ext.carried.append(stmt)
        if init_app is None:
            self.ext.report.notes.append("no init_app(app) function: DRUM would refuse this file")
        else:
            self._init_app(init_app)
        self._drop_flask_helpers()
        self._collect_values()
        if self.ext.routes:
            self.ext.report.notes.append(
                "on the routes, FastAPI answers a method a route lacks with a JSON 405 (Flask: an HTML"
                " page, and OPTIONS answered) and the other trailing-slash spelling with a 307 redirect"
                " (Flask: 404); --check sends each route its own methods only")
        return self.ext

    def _flask_names_in(self, stmt: ast.stmt) -> list[str]:
        return sorted({n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and n.id in self.names.imported})

    def _find_flask_helpers(self) -> None:
        """Module-level helpers and values built with Flask: hooks that use them cannot be translated."""
        for stmt in self.tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import_names(stmt)
        for stmt in self.tree.body:
            names = [stmt.name] if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
                t.id for t in getattr(stmt, "targets", []) if isinstance(t, ast.Name)]
            used = self._flask_names_in(stmt)
            if used and not getattr(stmt, "decorator_list", None):
                for name in names:
                    self.names.unavailable[name] = f"it uses {name}, which is built on {', '.join(used)}"

    def _drop_flask_helpers(self) -> None:
        """Carried statements that use Flask cannot be carried: each is a marked place."""
        kept: list[ast.stmt] = []
        for stmt in self.ext.carried:
            used = [] if isinstance(stmt, (ast.Import, ast.ImportFrom)) else self._flask_names_in(stmt)
            if not used:
                kept.append(stmt)
                continue
            imports = [self.names.imported[name].split(".")[0] for name in used]
            if isinstance(stmt, ast.Assign) and all(m in KNOWN_EXTENSIONS for m in imports):
                continue  # the extension's own finding covers it
            name = getattr(stmt, "name", None) or ast.unparse(stmt).splitlines()[0][:60]
            self.ext.report.add(Finding(Kind.OTHER, name, stmt.lineno, "a marked place", Verdict.NOT_TRANSLATABLE,
                                        f"module-level code using {', '.join(used)}", self.quote(stmt)))
        self.ext.carried = kept

    def _import_names(self, stmt: ast.Import | ast.ImportFrom) -> None:
        modules = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        if not any(_flaskish(m.split(".")[0]) for m in modules):
            return
        for alias in stmt.names:
            local = alias.asname or alias.name.split(".")[0]
            full = f"{stmt.module}.{alias.name}" if isinstance(stmt, ast.ImportFrom) else alias.name
            self.names.imported[local] = full

    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        modules = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        flaskish = {m.split(".")[0] for m in modules if _flaskish(m.split(".")[0])}
        if not flaskish:
            self.ext.carried.append(stmt)
            return
        for module in sorted(flaskish):
            if module in KNOWN_EXTENSIONS:
                becomes, reason = KNOWN_EXTENSIONS[module]
                self.ext.report.add(Finding(Kind.EXTENSION, module, stmt.lineno, becomes,
                                            Verdict.NOT_TRANSLATABLE, reason, self.quote(stmt)))
            elif module not in ("flask", "werkzeug", "flask_cors", "flask_httpauth"):
                self.ext.report.add(Finding(Kind.EXTENSION, module, stmt.lineno, "a marked place quoting it",
                                            Verdict.NOT_TRANSLATABLE,
                                            "an extension drum-bridge migrate does not know; port it by hand",
                                            self.quote(stmt)))

    def _flask_object(self, stmt: ast.Assign) -> bool:
        """``bp = Blueprint(...)``, ``auth = HTTPTokenAuth(...)``: remembered, not carried."""
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            return False
        if not isinstance(stmt.value, ast.Call) or not isinstance(stmt.value.func, ast.Name):
            return False
        var, what = stmt.targets[0].id, self.names.imported.get(stmt.value.func.id, "")
        call = stmt.value
        if what == "flask.Blueprint":
            bp_name = _literal_str(call.args[0]) if call.args else None
            prefix = _literal_str(_keyword(call, "url_prefix")) or ""
            self.ext.blueprints[var] = (bp_name or var, prefix)
            self.ext.report.add(Finding(Kind.BLUEPRINT, bp_name or var, stmt.lineno,
                                        f"APIRouter {var} (prefix {prefix!r})" if prefix else f"APIRouter {var}"))
            return True
        if what == "flask_httpauth.HTTPTokenAuth":
            scheme = _literal_str(call.args[0]) if call.args else _literal_str(_keyword(call, "scheme"))
            auth = TokenAuth(var, scheme or "Bearer", _literal_str(_keyword(call, "realm")) or "Authentication Required",
                             _literal_str(_keyword(call, "header")))
            self.names.token_auths[var] = auth
            self.ext.report.add(Finding(Kind.EXTENSION, f"flask_httpauth.HTTPTokenAuth {var}", stmt.lineno,
                                        f"{var}_user(request) and the FastAPI dependency require_{var}"))
            return True
        if what == "flask_cors.CORS" and not call.args:
            self.cors_objects[var] = call
            return True
        if what.startswith("flask_httpauth."):
            self.ext.report.add(Finding(Kind.EXTENSION, f"{what} {var}", stmt.lineno, "a marked place quoting it",
                                        Verdict.NOT_TRANSLATABLE,
                                        "only HTTPTokenAuth is translated; write a dependency checking the credentials",
                                        self.quote(stmt)))
            return True
        return False

    def _decorated(self, func: Function, app: str, *, module_level: bool) -> None:
        for deco in func.decorator_list:
            target = _call_name(deco)
            if target is None:
                continue
            owner, attr = target
            if owner in self.names.token_auths:
                if attr == "verify_token":
                    self.names.token_auths[owner].verify = func.name
                    self.ext.carried.append(_undecorated(func))
                    return
                if attr == "error_handler":
                    self.ext.report.add(Finding(Kind.EXTENSION, f"{owner}.error_handler {func.name}", func.lineno,
                                                "a marked place quoting it", Verdict.NOT_TRANSLATABLE,
                                                "a custom authentication error answer; write it in the hook by hand",
                                                self.quote(func)))
                    self.names.token_auths[owner].custom_error = True
                    return
            if owner == app and attr in HOOK_KINDS:
                self._hook(func, HOOK_KINDS[attr])
                return
            if (owner == app or owner in self.ext.blueprints) and attr in ROUTE_METHODS and isinstance(deco, ast.Call):
                self._route(func, deco, owner, attr)
                return
            if owner in self.ext.blueprints and attr in HOOK_KINDS:
                self.ext.report.add(Finding(HOOK_KINDS[attr], f"{owner}.{func.name}", func.lineno,
                                            "a dependency of that router's routes", Verdict.NOT_TRANSLATABLE,
                                            "a blueprint hook runs for that blueprint's routes only; add it to"
                                            " the router as dependencies=[Depends(...)] by hand",
                                            self.quote(func)))
                return
            if owner == app:
                self.ext.report.add(Finding(Kind.OTHER, f"@{owner}.{attr} {func.name}", func.lineno, "a marked place quoting it",
                                            Verdict.NOT_TRANSLATABLE,
                                            "Flask-only registration (error handlers, template filters, ...);"
                                            " FastAPI has app.add_exception_handler and friends",
                                            self.quote(func)))
                return
        if module_level:
            self.functions[func.name] = func
            self.ext.carried.append(func)

    # -- init_app --------------------------------------------------------------------------
    def _init_app(self, init_app: Function) -> None:
        if not init_app.args.args:
            self.ext.report.notes.append("init_app takes no argument")
            return
        app = self.names.app_name = init_app.args.args[0].arg
        for stmt in init_app.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if stmt.decorator_list:
                    self._decorated(stmt, app, module_level=False)
                else:
                    self.functions[stmt.name] = stmt
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and self._init_call(stmt.value, app):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # a docstring
            if isinstance(stmt, ast.Pass):
                continue
            used = [self.names.imported[name] for name in self._flask_names_in(stmt)]
            reason = f"it uses {', '.join(used)}" if used else "a statement drum-bridge migrate does not know"
            self.ext.report.add(Finding(Kind.OTHER, ast.unparse(stmt).splitlines()[0][:60], stmt.lineno,
                                        "a marked place in init_app", Verdict.NOT_TRANSLATABLE, reason,
                                        self.quote(stmt), in_init_app=True))

    def _init_call(self, call: ast.Call, app: str) -> bool:
        target = _call_name(call)
        if isinstance(call.func, ast.Name) and self.names.imported.get(call.func.id) == "flask_cors.CORS":
            self._cors(call)
            return True
        if target is None:
            return False
        owner, attr = target
        if owner in self.cors_objects and attr == "init_app":
            merged = ast.Call(call.func, call.args, [*self.cors_objects[owner].keywords, *call.keywords])
            self._cors(ast.copy_location(merged, call))
            return True
        if owner == app and attr == "register_blueprint" and call.args and isinstance(call.args[0], ast.Name):
            var = call.args[0].id
            prefix = _literal_str(_keyword(call, "url_prefix"))
            if var in self.ext.blueprints:
                name, own = self.ext.blueprints[var]
                self.ext.blueprints[var] = (name, prefix if prefix is not None else own)
                self.ext.registered.append(var)
                return True
            self.ext.report.add(Finding(Kind.BLUEPRINT, var, call.lineno, "app.include_router(...) by hand",
                                        Verdict.NOT_TRANSLATABLE, "the blueprint is defined elsewhere",
                                        self.quote(call)))
            return True
        if owner == app and attr in HOOK_KINDS and call.args and isinstance(call.args[0], ast.Name):
            func = self.functions.get(call.args[0].id)
            if func is not None:
                self._hook(func, HOOK_KINDS[attr])
                self.ext.carried = [s for s in self.ext.carried if s is not func]
                return True
        return False

    def _cors(self, call: ast.Call) -> None:
        options = {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg}
        finding = Finding(Kind.EXTENSION, "flask_cors.CORS", call.lineno, "CORSMiddleware", Verdict.NEEDS_A_LOOK,
                          "CORSMiddleware answers CORS preflights itself (200 'OK' on any path, even one"
                          " that does not exist); flask-cors let Flask answer them (empty 200, 404 elsewhere)")
        unsupported = sorted(set(options) - {"origins", "methods", "allow_headers", "expose_headers",
                                             "supports_credentials", "max_age"})
        if unsupported:
            finding.verdict = Verdict.NOT_TRANSLATABLE
            finding.reason = f"options without a CORSMiddleware counterpart: {', '.join(unsupported)}"
            finding.source = self.quote(call)
        self.ext.cors = options
        self.ext.report.add(finding)
        self.ext.order.append(finding)

    def _login_required(self, func: Function) -> TokenAuth | None:
        for deco in func.decorator_list:
            target = _call_name(deco)
            if target and target[0] in self.names.token_auths and target[1] == "login_required":
                return self.names.token_auths[target[0]]
        return None

    def _hook(self, func: Function, kind: Kind) -> None:
        role = {Kind.BEFORE_REQUEST: HookRole.BEFORE, Kind.AFTER_REQUEST: HookRole.AFTER}.get(kind, HookRole.TEARDOWN)
        result = translate_function(func, role, self.names, login_required=self._login_required(func))
        self.ext.headers_read |= result.headers_read
        self.ext.headers_set |= result.headers_set
        class_name = middleware_name(func.name)
        finding = Finding(kind, func.name, func.lineno, f"pure ASGI middleware {class_name}", source=self.quote(func))
        _verdict(finding, result.problems, result.remarks)
        if result.problems:
            finding.becomes += " (a marked place quoting the hook; it passes requests through)"
        self.ext.report.add(finding)
        hook = Hook(finding, func, class_name, None if result.problems else result.body)
        self.ext.hooks.append(hook)
        self.ext.order.append(hook)

    def _route(self, func: Function, deco: ast.Call, owner: str, attr: str) -> None:
        path = _literal_str(deco.args[0]) if deco.args else None
        methods_node = _keyword(deco, "methods")
        methods: list[str] = [ROUTE_METHODS[attr] or "GET"]
        if isinstance(methods_node, (ast.List, ast.Tuple)):
            methods = [m.upper() for m in (_literal_str(e) for e in methods_node.elts) if m]
        endpoint = _literal_str(_keyword(deco, "endpoint")) or func.name
        router = owner if owner in self.ext.blueprints else "router"
        if router != "router":
            endpoint = f"{self.ext.blueprints[owner][0]}.{endpoint}"
        result = translate_function(func, HookRole.ROUTE, self.names)
        auth = self._login_required(func)
        if auth is not None and auth.verify is None:
            result.problems.append(f"{auth.var} has no @verify_token function in this file")
        if auth is not None and auth.custom_error:
            result.problems.append(f"{auth.var} has its own error handler")
        if auth is not None:
            result.remarks.append(f"@{auth.var}.login_required became the dependency require_{auth.var}, whose 401"
                                  ' body is FastAPI\'s {"detail": "Unauthorized Access"} (flask-httpauth: text)')
        finding = Finding(Kind.ROUTE, f"{'/'.join(methods)} {path}", func.lineno,
                          f"@{router}.api_route({fastapi_path(path or '')!r}, name={endpoint!r})",
                          source=self.quote(func))
        if path is None:
            result.problems.append("the rule is not a string literal")
        _verdict(finding, result.problems, result.remarks)
        self.ext.report.add(finding)
        if path is not None:
            code = None if result.problems else result.body
            self.ext.routes.append(Route(finding, func, router, path, methods, endpoint, code, auth))

    def _collect_values(self) -> None:
        # What the code compares with first (a token), then what its dicts hold (a token table).
        compared: list[str] = []
        held: list[str] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Compare):
                compared += [v for v in (_literal_str(n) for n in [node.left, *node.comparators]) if v]
            elif isinstance(node, ast.Dict):
                held += [v for v in (_literal_str(n) for n in [*node.keys, *node.values] if n) if v]
        # Module-level string constants (TOKEN = "..."), which the code compares with by name.
        compared += [v for stmt in self.tree.body if isinstance(stmt, ast.Assign)
                     for v in [_literal_str(stmt.value)] if v]
        values = compared + held
        wanted = [v for v in dict.fromkeys(values) if v and len(v) <= 80 and "\n" not in v
                  and v not in self.ext.headers_read and not v.startswith("model_api.")]
        self.ext.values = wanted[:6]


def _flaskish(module: str) -> bool:
    return module in ("flask", "werkzeug") or module.startswith("flask_") or module in KNOWN_EXTENSIONS


def _undecorated(func: Function) -> Function:
    bare = copy.copy(func)
    bare.decorator_list = []
    return bare


def _verdict(finding: Finding, problems: list[str], remarks: list[str]) -> None:
    if problems:
        finding.verdict, finding.reason = Verdict.NOT_TRANSLATABLE, "; ".join(sorted(set(problems)))
    elif remarks:
        finding.verdict, finding.reason = Verdict.NEEDS_A_LOOK, "; ".join(sorted(set(remarks)))


def read_flask_extension(source: str, path: str = "custom_flask.py") -> FlaskExtension:
    """What ``source`` (a custom_flask.py) holds; ``SyntaxError`` when it is not Python."""
    return _Reader(source, path).read()

"""Translating a Flask hook or view body into Starlette code, node by node (``ast``).

A translated hook becomes a plain function of ``request`` (a Starlette
``Request``; after-request hooks also get ``response``, a ``ResponseStart``)
that returns a Starlette ``Response`` to answer, or ``None`` to go on.  What has
no faithful counterpart (``g``, the body, ``abort``, ``current_app``...) is a
*problem*: the caller then writes a marked place instead.  What translates but
may behave a little differently is a *remark* ("needs a look").
"""

from __future__ import annotations

import ast
import copy
import enum
from dataclasses import dataclass, field

__all__ = ["FlaskNames", "HookRole", "TokenAuth", "Translation", "translate_function"]


class HookRole(enum.Enum):
    BEFORE = "before_request"
    AFTER = "after_request"
    TEARDOWN = "teardown_request"
    ROUTE = "route"


@dataclass
class TokenAuth:
    """A flask-httpauth ``HTTPTokenAuth`` object."""

    var: str
    scheme: str
    realm: str
    header: str | None
    verify: str | None = None
    custom_error: bool = False


@dataclass
class FlaskNames:
    """What the module's names mean: local name -> ``flask.request``, ``flask_cors.CORS``..."""

    imported: dict[str, str] = field(default_factory=dict)
    token_auths: dict[str, TokenAuth] = field(default_factory=dict)
    #: Module-level names built on Flask (not carried over), with why.
    unavailable: dict[str, str] = field(default_factory=dict)
    app_name: str = "app"

    def flask(self, name: str) -> str | None:
        """``request`` -> ``"request"`` when it is flask's; ``None`` otherwise."""
        full = self.imported.get(name, "")
        return full.rsplit(".", 1)[1] if full.startswith("flask.") else None


@dataclass
class Translation:
    body: list[ast.stmt]
    problems: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    headers_read: set[str] = field(default_factory=set)
    headers_set: set[str] = field(default_factory=set)


#: Flask ``request.X`` -> Starlette source, for what reads no body.
REQUEST_ATTRIBUTES = {
    "headers": "request.headers",
    "args": "request.query_params",
    "method": "request.method",
    "cookies": "request.cookies",
    "path": "request.url.path",
    "url": "str(request.url)",
    "scheme": "request.url.scheme",
    "remote_addr": "(request.client.host if request.client else None)",
    "content_type": "request.headers.get('content-type')",
    "user_agent": "request.headers.get('user-agent', '')",
    "endpoint": "flask_endpoint(request)",
}
BODY_ATTRIBUTES = {"get_json", "json", "data", "get_data", "form", "files", "values", "stream", "input_stream"}
#: Flask names that have no faithful translation, with the reason.
UNTRANSLATABLE = {
    "g": "it uses flask.g (per-request state shared between hooks); use request.state by hand",
    "session": "it uses Flask's session",
    "current_app": "it uses current_app (the Flask app's config or extensions)",
    "abort": "abort() answers through Flask's error handlers; return a Response instead",
    "make_response": "make_response() builds a Flask response",
    "Response": "it builds a flask.Response",
    "redirect": "redirect() builds a Flask response",
    "url_for": "url_for() builds Flask URLs; use request.url_for by hand",
    "render_template": "templates are rendered by Flask",
    "send_file": "send_file() builds a Flask response; use FileResponse",
    "stream_with_context": "streams through Flask's request context",
}


def _expr(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


class _Translator(ast.NodeTransformer):
    def __init__(self, role: HookRole, names: FlaskNames, response_name: str | None) -> None:
        self.role = role
        self.names = names
        self.response_name = response_name
        self.result = Translation([])

    def problem(self, text: str) -> None:
        self.result.problems.append(text)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names.unavailable:
            self.problem(self.names.unavailable[node.id])
            return node
        what = self.names.flask(node.id)
        if what == "request":
            self.problem("it passes the Flask request object on")
        elif what == "jsonify":
            self.problem("it uses jsonify other than to answer")
        elif what is not None:
            self.problem(UNTRANSLATABLE.get(what, f"it uses flask.{what}"))
        elif node.id in self.names.imported and what is None and node.id not in self.names.token_auths:
            self.problem(f"it uses {self.names.imported[node.id]}")
        return node

    def _header_name(self, node: ast.AST, target: set[str]) -> None:
        name = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
        if name:
            target.add(name)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and self.names.flask(node.value.id) == "request":
            if self.role is HookRole.TEARDOWN:
                self.problem("it reads the request, which the translated teardown does not get")
                return node
            if node.attr in BODY_ATTRIBUTES:
                self.problem(f"it reads the body (request.{node.attr}); a middleware must not hold it")
                return node
            replacement = REQUEST_ATTRIBUTES.get(node.attr)
            if replacement is None:
                self.problem(f"request.{node.attr} has no translation")
                return node
            if node.attr == "path":
                self.result.remarks.append(
                    "request.path became request.url.path, which includes the mount path when mounted")
            return ast.copy_location(_expr(replacement), node)
        if isinstance(node.value, ast.Name) and node.value.id == self.response_name:
            if node.attr not in ("headers", "status_code"):
                self.problem(f"response.{node.attr}: only headers and status_code can change on the way out")
            return node
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        # request.headers.get("X") / request.args.get("x"): remember the names the hooks read.
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
                and isinstance(func.value.value, ast.Name) and self.names.flask(func.value.value.id) == "request"
                and func.value.attr == "headers" and node.args):
            self._header_name(node.args[0], self.result.headers_read)
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
                and isinstance(func.value.value, ast.Name) and func.value.value.id == self.response_name
                and func.value.attr == "headers"):
            if node.args:
                self._header_name(node.args[0], self.result.headers_set)
            if func.attr == "add":
                func.attr = "append"
            elif func.attr in ("set", "extend", "remove", "add_header"):
                # ``set`` as a statement is rewritten by visit_Expr; anywhere else it has no counterpart.
                self.problem(f"response.headers.{func.attr}() has no translation")
        if isinstance(func, ast.Name) and self.names.flask(func.id) == "jsonify":
            return ast.copy_location(self._json_response(node, None, None), node)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.names.token_auths:
            auth = self.names.token_auths[func.value.id]
            if func.attr == "current_user" and not node.args and self.role is not HookRole.TEARDOWN:
                return ast.copy_location(_expr(f"{auth.var}_user(request)"), node)
            self.problem(f"{auth.var}.{func.attr}() has no translation")
            return node
        return self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        # response.headers.set("X", v) -> response.headers["X"] = v
        call = node.value
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "set"
                and isinstance(call.func.value, ast.Attribute) and call.func.value.attr == "headers"
                and isinstance(call.func.value.value, ast.Name) and call.func.value.value.id == self.response_name
                and len(call.args) == 2 and not call.keywords):
            self._header_name(call.args[0], self.result.headers_set)
            target = ast.Subscript(call.func.value, self.visit(call.args[0]), ast.Store())
            return ast.copy_location(ast.Assign([target], self.visit(call.args[1])), node)
        return self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        value = node.value
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
            if self.names.flask(value.value.id) == "request" and value.attr == "headers":
                self._header_name(node.slice, self.result.headers_read)
            if value.value.id == self.response_name and value.attr == "headers" and isinstance(node.ctx, ast.Store):
                self._header_name(node.slice, self.result.headers_set)
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        # "X-Auth" in request.headers
        for left, right in zip([node.left, *node.comparators], node.comparators, strict=False):
            if (isinstance(right, ast.Attribute) and right.attr == "headers" and isinstance(right.value, ast.Name)
                    and self.names.flask(right.value.id) == "request"):
                self._header_name(left, self.result.headers_read)
        return self.generic_visit(node)

    def _json_response(self, call: ast.Call, status: ast.expr | None, headers: ast.expr | None) -> ast.expr:
        if call.keywords and not call.args:
            content: ast.expr = ast.Dict(keys=[ast.Constant(k.arg) for k in call.keywords],
                                         values=[k.value for k in call.keywords])
        elif len(call.args) == 1 and not call.keywords:
            content = call.args[0]
        else:
            content = ast.List(elts=list(call.args), ctx=ast.Load())
        return self._response("JSONResponse", content, status, headers)

    def _response(self, cls: str, content: ast.expr, status: ast.expr | None, headers: ast.expr | None,
                  media_type: str | None = None) -> ast.expr:
        keywords = []
        if status is not None:
            keywords.append(ast.keyword("status_code", status))
        if headers is not None:
            keywords.append(ast.keyword("headers", headers))
        if media_type:
            keywords.append(ast.keyword("media_type", ast.Constant(media_type)))
        return ast.Call(ast.Name(cls, ast.Load()), [self.visit(content)], keywords)

    def answer(self, value: ast.expr) -> ast.expr | None:
        """A Flask view's return value as a Starlette Response expression."""
        status = headers = None
        body = value
        if isinstance(value, ast.Tuple) and 2 <= len(value.elts) <= 3:
            body, status = value.elts[0], value.elts[1]
            headers = value.elts[2] if len(value.elts) == 3 else None
            status = self.visit(status)
            headers = self.visit(headers) if headers is not None else None
        if isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and self.names.flask(body.func.id) == "jsonify":
            return self._json_response(body, status, headers)
        if isinstance(body, (ast.Dict, ast.List)):
            return self._response("JSONResponse", body, status, headers)
        if isinstance(body, ast.JoinedStr) or (isinstance(body, ast.Constant) and isinstance(body.value, str)):
            return self._response("Response", body, status, headers, "text/html")
        self.problem(f"it returns {ast.unparse(value)!r}, whose kind of response is only known at run time")
        return None

    def visit_Return(self, node: ast.Return) -> ast.AST:
        value = node.value
        if value is None or (isinstance(value, ast.Constant) and value.value is None):
            return ast.copy_location(ast.Return(ast.Constant(None)), node)
        if self.role is HookRole.AFTER:
            if not (isinstance(value, ast.Name) and value.id == self.response_name):
                self.problem("it returns another response than the one it got")
            return ast.copy_location(ast.Return(ast.Constant(None)), node)
        if self.role is HookRole.TEARDOWN:
            return ast.copy_location(ast.Return(ast.Constant(None)), node)
        answer = self.answer(value)
        return ast.copy_location(ast.Return(answer if answer is not None else value), node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.problem("it defines a nested function")
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]


def _auth_guard(auth: TokenAuth) -> list[ast.stmt]:
    """flask-httpauth's ``login_required``: OPTIONS passes; no user is its 401."""
    return ast.parse(
        f"if request.method != 'OPTIONS' and {auth.var}_user(request) in (False, None):\n"
        f"    return {auth.var}_refusal()\n"
    ).body


def translate_function(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    role: HookRole,
    names: FlaskNames,
    *,
    login_required: TokenAuth | None = None,
) -> Translation:
    """The body of ``func`` in Starlette terms, and what could not be translated."""
    response_name = func.args.args[0].arg if role is HookRole.AFTER and func.args.args else None
    translator = _Translator(role, names, response_name)
    if role in (HookRole.BEFORE, HookRole.AFTER) and func.args.args[1 if role is HookRole.AFTER else 0:]:
        translator.problem("it takes arguments Flask does not pass to hooks")
    if role is HookRole.ROUTE and (func.args.vararg or func.args.kwarg):
        translator.problem("it takes *args or **kwargs")
    body = [translator.visit(stmt) for stmt in copy.deepcopy(func.body)]
    if login_required is not None:
        if login_required.custom_error:
            translator.problem(f"{login_required.var} has its own error handler")
        if login_required.verify is None:
            translator.problem(f"{login_required.var} has no @verify_token function in this file")
        body = _auth_guard(login_required) + body
    translation = translator.result
    translation.body = [ast.fix_missing_locations(stmt) for stmt in body]
    return translation

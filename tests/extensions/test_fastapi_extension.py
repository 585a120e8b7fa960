"""custom_fastapi.py: init_app receives the app that serves the DRUM routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from .conftest import CSV

Serve = Callable[..., TestClient]

FULL = """
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/extra")


class Teapot(Exception):
    pass


def token(x_token: str = Header(default="")) -> str:
    if x_token != "ok":
        raise HTTPException(status_code=403, detail="bad token")
    return x_token


@router.get("/state")
def state(request: Request, tok: str = Depends(token)) -> dict:
    return {"greeting": request.app.state.greeting, "token": tok}


@router.get("/teapot")
def teapot() -> dict:
    raise Teapot()


class StampMiddleware:
    # A pure ASGI middleware: it stamps every response, DRUM routes included.
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def stamped(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-stamp", b"pure")]
            await send(message)

        await self.app(scope, receive, stamped)


def init_app(app):
    app.state.greeting = "hello"
    app.include_router(router)
    app.add_middleware(StampMiddleware)

    @app.exception_handler(Teapot)
    async def on_teapot(request, exc):
        return JSONResponse({"message": "short and stout"}, status_code=418)
"""


def test_routers_dependencies_state_and_handlers(serve: Serve) -> None:
    client = serve({"custom_fastapi.py": FULL})
    assert client.get("/extra/state", headers={"X-Token": "ok"}).json() == {
        "greeting": "hello", "token": "ok"
    }
    assert client.get("/extra/state").status_code == 403
    teapot = client.get("/extra/teapot")
    assert (teapot.status_code, teapot.json()) == (418, {"message": "short and stout"})


def test_user_middleware_wraps_drum_routes_too(serve: Serve) -> None:
    client = serve({"custom_fastapi.py": FULL})
    for response in (
        client.get("/ping/"),
        client.post("/predict/", content=CSV, headers={"Content-Type": "text/csv"}),
        client.get("/nonexistent/"),
    ):
        assert response.headers["x-stamp"] == "pure"
        assert "x_request_id" in response.headers


def test_found_in_a_subfolder_and_logged(serve: Serve, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level("INFO", logger="drum_bridge")
    client = serve({"ext__custom_fastapi.py": FULL})
    assert client.get("/extra/state", headers={"X-Token": "ok"}).status_code == 200
    assert "Detected custom_fastapi.py .. trying to load FastAPI extensions" in caplog.text
    assert "Successfully loaded FastAPI extensions" in caplog.text

# ruff: noqa
# The migration guide's "Authentication Middleware" example, FastAPI version, verbatim
# (/work/shared/MIGRATION_GUIDE.md, section 1). run.py copies it into a code dir as custom_fastapi.py.
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware

class AuthMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        if request.url.path.rstrip("/") in ["/ping", "/"]:
            return await call_next(request)
        
        token = request.headers.get("X-Auth-Token")
        if token != "secret":
            return JSONResponse(
                content={"message": "Unauthorized"},
                status_code=401
            )
        return await call_next(request)

def init_app(app):
    app.add_middleware(AuthMiddleware)

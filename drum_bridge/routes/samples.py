"""Collecting a request's samples as DRUM accepts them: multipart field ``X`` or a raw body.

This only looks at the request (headers, multipart fields) and runs on the
event loop; parsing the samples is ``model.payload.to_frame``'s, in a model thread.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..errors import DrumHTTPError, UnprocessableEntityError
from ..model.payload import Payload

__all__ = ["NO_SAMPLES_MESSAGE", "read_payload", "split_content_type"]

NO_SAMPLES_MESSAGE = (
    "Samples should be provided as:   - a csv or mtx under `X` form-data param key.  - binary data"
)


def split_content_type(value: str) -> tuple[str, str | None]:
    mimetype, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.strip().partition("=")
        if key.lower() == "charset" and val:
            charset = val.strip('"')
    return mimetype.strip().lower(), charset


async def _read_upload(value: Any) -> bytes | None:
    if isinstance(value, UploadFile):
        return await value.read()
    if isinstance(value, str):
        return value.encode()
    return None


async def read_payload(request: Request) -> Payload:
    """Collect the samples of ``request`` as DRUM does, or raise a 422."""
    mimetype, charset = split_content_type(request.headers.get("content-type", ""))
    if mimetype == "multipart/form-data":
        try:
            form = await request.form()
        except HTTPException as exc:
            # Starlette's answer to a malformed multipart body or one past its limits
            # (1,000 fields, 1,000 files, 1 MB for a field that is not a file).
            detail = str(exc.detail)
            message = detail if "multipart" in detail else f"Invalid multipart data: {detail}"
            raise DrumHTTPError(message, status_code=exc.status_code) from exc
        try:
            upload = form.get("X")
            data = await _read_upload(upload)
            if not data:
                raise UnprocessableEntityError(NO_SAMPLES_MESSAGE)
            filename = getattr(upload, "filename", None) or ""
            return Payload(
                data=data,
                mimetype="text/mtx" if filename.lower().endswith(".mtx") else None,
                colnames=await _read_upload(form.get("X.colnames")),
                target=await _read_upload(form.get("y")),
            )
        finally:
            await form.close()
    data = await request.body()
    if not data:
        raise UnprocessableEntityError(NO_SAMPLES_MESSAGE)
    return Payload(data=data, mimetype=mimetype, charset=charset)

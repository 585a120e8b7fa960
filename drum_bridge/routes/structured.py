"""``/predict/`` and ``/transform/``: structured models."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from ..batcher import count_predict_call, predict_batcher
from ..config import TargetType
from ..errors import ServiceUnavailableError, UnprocessableEntityError
from ..model_runtime import DrumRuntime
from .samples import read_payload

__all__ = ["predict", "transform"]

_WRONG_FOR_PREDICT = {
    TargetType.TRANSFORM: "This model has target type 'transform', use the /transform/ endpoint.",
    TargetType.UNSTRUCTURED: (
        "This model has target type 'unstructured', use the /predictUnstructured/ or"
        " /predictionsUnstructured/ endpoint."
    ),
}


async def predict(runtime: DrumRuntime, request: Request) -> Response:
    target_type = runtime.config.target_type
    if target_type in _WRONG_FOR_PREDICT:
        raise UnprocessableEntityError(_WRONG_FOR_PREDICT[target_type])
    model = runtime.loaded
    payload = await read_payload(request)
    if model.score_is_async:
        # Reading and checking run in model threads; the hook is awaited on the loop
        # (run_model awaits an async def there, with the request timeout).
        data = await runtime.run_model(model.prepare, payload)
        out = await runtime.run_model(model.score_async, data, payload)
        body = await runtime.run_model(model.finish, data, out)
    else:
        batcher = predict_batcher(runtime)
        if batcher is not None:
            body = await batcher.predict(payload)
        else:
            try:
                body = await runtime.run_model(model.predict, payload)
            except ServiceUnavailableError:
                raise  # refused: no model call
            except Exception:
                count_predict_call(runtime)
                raise
            count_predict_call(runtime)
    return Response(body, media_type="application/json")


async def transform(runtime: DrumRuntime, request: Request) -> Response:
    target_type = runtime.config.target_type
    if target_type is not TargetType.TRANSFORM:
        endpoint = "predictUnstructured" if target_type is TargetType.UNSTRUCTURED else "predict"
        raise UnprocessableEntityError(
            f"This model has target type {target_type}, use the /{endpoint}/ endpoint."
        )
    model = runtime.loaded
    payload = await read_payload(request)
    x_csv, y_csv = await runtime.run_model(model.transform, payload)
    parts = [("X", x_csv)]
    if y_csv is not None:
        parts.append(("y", y_csv))
    boundary = uuid.uuid4().hex
    return Response(
        _multipart(parts, boundary), media_type=f"multipart/form-data; boundary={boundary}"
    )


def _multipart(parts: list[tuple[str, bytes]], boundary: str) -> bytes:
    """DRUM's transform answer: for each of X (and y) a ``.format`` and a ``.transformed`` part."""
    out = bytearray()
    for name, data in parts:
        out += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}.format\"\r\n\r\n"
            f"csv\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{name}.transformed\";"
            f" filename=\"{name}.transformed\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)

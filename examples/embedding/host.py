"""A FastAPI service of its own, with two drum-bridge models mounted beside its routes.

Run it from the repository root:

    uvicorn examples.embedding.host:app --port 8000

then ``curl localhost:8000/status``, and see the README ("Embedding") for the models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

import drum_bridge

MODELS = Path(__file__).parent / "models"

# A binary model guarded by its own custom_flask.py (a token check), and a regression
# model with a custom_fastapi.py route. Each gets its own threads, hooks and routes.
churn = drum_bridge.create_app(
    code_dir=MODELS / "churn",
    target_type="binary",
    positive_class_label="yes",
    negative_class_label="no",
)
price = drum_bridge.create_app(code_dir=MODELS / "price", target_type="regression", model_threads=2)


@asynccontextmanager
async def lifespan(host: FastAPI) -> AsyncIterator[None]:
    # Mounted apps get no lifespan events: load both models at start-up, release them at exit.
    async with churn.lifespan_context(host), price.lifespan_context(host):
        yield


app = FastAPI(title="shop", lifespan=lifespan)


@app.get("/status")
async def status() -> dict[str, str]:
    return {"status": "ok"}


app.mount("/models/churn", churn)
app.mount("/models/price", price)

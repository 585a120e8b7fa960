"""A route of the model's own, served under the model's mount path."""

from fastapi import APIRouter, FastAPI

router = APIRouter()


@router.get("/explain")
async def explain() -> dict[str, str]:
    return {"formula": "50000 + 3000 * m2"}


def init_app(app: FastAPI) -> None:
    app.include_router(router)

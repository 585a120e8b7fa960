from fastapi import APIRouter

router = APIRouter()

@router.get("/custom/status")
async def status():
    return {"status": "ok"}

def init_app(app):
    app.include_router(router)

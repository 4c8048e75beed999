"""The web chat: one static page and its script, served by the gateway itself (no build step).
The page holds no secret of the server's: the caller types a token, kept in sessionStorage."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/static/config.json")
async def page_config(request: Request) -> JSONResponse:
    """What the page needs to know of this deployment: where the Temporal UI is."""
    settings = request.app.state.settings
    client = request.app.state.client
    return JSONResponse(
        {"temporal_ui_url": settings.temporal_ui_url, "namespace": client.namespace}
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

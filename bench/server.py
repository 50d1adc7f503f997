"""The app under benchmark: the real app plus a no-op endpoint with the same middleware."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.main import create_app
from app.settings import Settings


def create_bench_app() -> FastAPI:
    app = create_app(Settings())

    @app.post("/bench/noop", status_code=201, include_in_schema=False)
    async def noop(request: Request) -> JSONResponse:
        # Reads the body like the capture endpoint does, then answers like it.
        await request.body()
        return JSONResponse({"lead_id": "0", "submission_id": "0"}, status_code=201)

    return app

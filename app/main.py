"""The application factory: `create_app(settings)`, and `app` for uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import subscribers  # noqa: F401  (wires domain-event subscribers)
from app.api.errors import install_error_handlers
from app.api.router import api_router, public_router
from app.db import Database
from app.observability import ObservabilityMiddleware, configure_logging
from app.settings import Settings, get_settings
from app.ui.routes import install_ui


def create_app(settings: Settings | None = None, *, run_scheduler: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    start_scheduler = settings.run_scheduler if run_scheduler is None else run_scheduler

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from app.scheduler import build_scheduler, stopping

        scheduler = build_scheduler(app.state.db, settings) if start_scheduler else None
        if scheduler:
            scheduler.start()
        try:
            yield
        finally:
            app.state.draining = True
            if scheduler:
                stopping.set()
                scheduler.shutdown(wait=True)  # finish the claimed batch
            app.state.db.dispose()

    app = FastAPI(
        title="Leadnurture",
        version="0.1.0",
        description="Self-hosted marketing automation: capture, score, nurture, hand off.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.draining = False
    app.state.rate_limiters = {}
    install_error_handlers(app)
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(public_router)
    app.include_router(api_router, prefix="/api/v1")
    install_ui(app)
    return app


def __getattr__(name: str) -> FastAPI:
    # `app` is built on first access (uvicorn's "app.main:app"), so importing this module
    # in tests or the CLI does not read the environment or touch the default database.
    if name != "app":
        raise AttributeError(name)
    settings = get_settings()
    configure_logging(settings.log_level)
    application = create_app(settings)
    globals()["app"] = application
    return application

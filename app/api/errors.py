"""One place that turns exceptions into the JSON error shape `{"detail": ...}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.errors import DomainError, RateLimited

log = logging.getLogger(__name__)


def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    headers = (headers or {}) | ({"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {})
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # The database went away (restart, failover): nothing was acknowledged, so the client
    # may retry; the pool reconnects by itself.
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "Service temporarily unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


def _unstorable_value(_request: Request, exc: Exception) -> JSONResponse:
    # e.g. a NUL character, which PostgreSQL text and JSONB cannot hold: bad input, not a crash.
    log.info("refused a value the database cannot store: %s", type(exc.orig).__name__)  # type: ignore[attr-defined]
    return JSONResponse(
        {
            "detail": [
                {
                    "loc": ["body"],
                    "msg": "contains characters that cannot be stored (e.g. NUL)",
                    "type": "value_error",
                }
            ]
        },
        status_code=422,
    )


def _client_gone(_request: Request, _exc: Exception) -> JSONResponse:
    # The browser left mid-upload; nothing was stored and nobody reads this answer.
    return JSONResponse({"detail": "client disconnected"}, status_code=400)


def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    scope_route = request.scope.get("route")
    route = getattr(scope_route, "path", "unmatched")
    log.error("unhandled error", exc_info=exc, extra={"path": route})
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected_error)

"""Domain exceptions. Each carries its HTTP status; `app/api/errors.py` renders them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail if detail is not None else self.default_detail()

    def default_detail(self) -> str:
        return self.__class__.__name__


class NotFound(DomainError):
    status_code = 404

    def __init__(self, what: str, key: object = None) -> None:
        super().__init__(f"{what} not found" if key is None else f"{what} {key!s} not found")


class Conflict(DomainError):
    status_code = 409


class InvalidInput(DomainError):
    """Bad input the schema could not catch; detail is a list of {loc, msg, type}."""

    status_code = 422

    def __init__(self, field: str | list[str | int], message: str) -> None:
        loc = [field] if isinstance(field, str) else field
        super().__init__([{"loc": loc, "msg": message, "type": "value_error"}])

    @classmethod
    def from_pydantic(cls, exc: ValidationError, prefix: str = "body") -> InvalidInput:
        """The same error shape FastAPI gives for a bad request body."""
        error = cls(prefix, "")
        error.detail = [{"loc": [prefix, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class PayloadTooLarge(DomainError):
    status_code = 413


class UnsupportedMediaType(DomainError):
    status_code = 415


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many requests; slow down")
        self.retry_after = retry_after

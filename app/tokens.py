"""Signed, expiring tokens for links in emails and pages (unsubscribe, click, download...).

Each purpose has its own salt, so a token minted for one link cannot be replayed on another.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import DomainError


class InvalidToken(DomainError):
    status_code = 404  # an unknown or tampered link is simply not found

    def default_detail(self) -> str:
        return "This link is invalid or has expired"


class Purpose:
    UNSUBSCRIBE = "unsubscribe"
    CLICK = "click"
    OPEN = "open"
    DOWNLOAD = "download"
    CONFIRM = "confirm"
    SESSION = "session"


def sign(secret_key: str, purpose: str, payload: Any) -> str:
    return URLSafeTimedSerializer(secret_key, salt=f"leadnurture.{purpose}").dumps(payload)


def verify(secret_key: str, purpose: str, token: str, max_age_seconds: int | None = None) -> Any:
    """The payload of a token minted by `sign` for the same purpose, or InvalidToken."""
    serializer = URLSafeTimedSerializer(secret_key, salt=f"leadnurture.{purpose}")
    try:
        return serializer.loads(token, max_age=max_age_seconds)
    except (SignatureExpired, BadSignature) as exc:
        raise InvalidToken() from exc

"""UI sessions: a signed cookie (HttpOnly, SameSite=Lax) carrying the user and a CSRF token."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from app.errors import DomainError, Forbidden
from app.models import User
from app.settings import Settings
from app.tokens import InvalidToken, Purpose, sign, verify

COOKIE = "ln_session"
SESSION_SECONDS = 12 * 3600
ROLE_RANK = {"viewer": 0, "marketer": 1, "admin": 2}


class LoginRequired(DomainError):
    """Rendered as a redirect to the login page by the UI's handler."""

    status_code = 303


@dataclass(frozen=True)
class UiSession:
    user_id: uuid.UUID
    email: str
    role: str
    csrf: str

    def require_role(self, role: str) -> None:
        if ROLE_RANK.get(self.role, -1) < ROLE_RANK[role]:
            raise Forbidden(f"this needs the {role} role")

    def check_csrf(self, token: str | None) -> None:
        if not token or not hmac.compare_digest(token, self.csrf):
            raise Forbidden("missing or wrong CSRF token; reload the page and try again")


def start_session(response: Response, settings: Settings, user: User) -> None:
    payload = {"u": str(user.id), "e": user.email, "r": user.role, "c": secrets.token_urlsafe(24)}
    response.set_cookie(
        COOKIE,
        sign(settings.secret_key, Purpose.SESSION, payload),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def read_session(request: Request, settings: Settings) -> UiSession:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise LoginRequired("login required")
    try:
        data = verify(settings.secret_key, Purpose.SESSION, cookie, SESSION_SECONDS)
        return UiSession(uuid.UUID(data["u"]), data["e"], data["r"], data["c"])
    except (InvalidToken, KeyError, ValueError, TypeError) as exc:
        raise LoginRequired("login required") from exc

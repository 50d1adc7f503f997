"""API keys: generated once, stored as a SHA-256 hash, scoped, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from app.errors import Forbidden, InvalidInput, Unauthorized
from app.models import ApiKey
from app.types import utcnow

SCOPES = (
    "forms:write",
    "leads:read",
    "leads:write",
    "sequences:write",
    "webhooks:write",
    "analytics:read",
    "admin",
)
KEY_PREFIX = "ln_"
# last_used_at is a hint, not an audit trail: writing it on every request would turn
# every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a named key (or the bootstrap key) and what it may do."""

    name: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if "admin" in self.scopes or scope in self.scopes:
            return
        raise Forbidden(f"this API key lacks the '{scope}' scope")


def hash_key(key: str) -> str:
    # Keys carry 256 bits of entropy, so a fast hash is enough (no brute force possible).
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext, which is never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInput("scopes", f"unknown scopes: {', '.join(unknown)}")
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name.strip(),
        prefix=plaintext[:10],
        key_hash=hash_key(plaintext),
        scopes=sorted(set(scopes)),
    )
    session.add(row)
    session.flush()
    return row, plaintext


def authenticate(session: Session, token: str | None, bootstrap_key: str) -> Principal:
    if not token:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    if bootstrap_key and hmac.compare_digest(token.encode(), bootstrap_key.encode()):
        return Principal(name="bootstrap", scopes=frozenset({"admin"}))
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
    return Principal(name=row.name, scopes=frozenset(row.scopes))

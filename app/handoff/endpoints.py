"""Webhook endpoints: register (secret shown once), edit, rotate the secret, replay."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, delete, or_, select, update

from app.errors import Conflict, InvalidInput, NotFound
from app.handoff.outbox import EVENT_TYPES
from app.handoff.signing import new_secret
from app.handoff.ssrf import check_webhook_url
from app.models import WebhookDelivery, WebhookEndpoint
from app.types import utcnow

ROTATION_GRACE = timedelta(hours=24)
FORBIDDEN_HEADERS = {
    "host",
    "content-length",
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "transfer-encoding",
    "connection",
}


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - {*EVENT_TYPES, "*"})
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)}, *)")
    return sorted(set(events))


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    clash = sorted(h for h in headers if h.lower() in FORBIDDEN_HEADERS)
    if clash:
        raise ValueError(f"these headers are set by Leadnurture: {', '.join(clash)}")
    return headers


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=lambda: ["lead.mql"], min_length=1)
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return _check_events(value)

    @field_validator("headers")
    @classmethod
    def _own_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_headers(value)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1)
    headers: dict[str, str] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    _events = field_validator("events")(classmethod(lambda cls, v: v if v is None else _check_events(v)))
    _headers = field_validator("headers")(classmethod(lambda cls, v: v if v is None else _check_headers(v)))


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    headers: dict[str, str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    consecutive_dead: int
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="The signing secret. Shown only in this response.")


def webhook_public(endpoint: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic.model_validate(endpoint, from_attributes=True)


def get_endpoint(session: Session, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))).all())


def create_endpoint(session: Session, body: WebhookCreate, *, production: bool) -> WebhookEndpoint:
    check_webhook_url(body.url, production=production)
    endpoint = WebhookEndpoint(secret=new_secret(), **body.model_dump())
    session.add(endpoint)
    session.flush()
    return endpoint


def update_endpoint(
    session: Session, endpoint: WebhookEndpoint, body: WebhookUpdate, *, production: bool
) -> WebhookEndpoint:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url"):
        check_webhook_url(changes["url"], production=production)
    for name, value in changes.items():
        if value is not None or name == "description":
            setattr(endpoint, name, value)
    if changes.get("enabled"):
        endpoint.consecutive_dead, endpoint.disabled_reason = 0, None
        _resume_parked(session, endpoint)
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    return endpoint


def _resume_parked(session: Session, endpoint: WebhookEndpoint) -> None:
    """Deliveries claimed while the endpoint was disabled go out again, with their webhook-id."""
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status) == "pending",
            col(WebhookDelivery.next_attempt_at).is_(None),
        )
        .values(next_attempt_at=utcnow(), last_error=None)
    )


def rotate_secret(session: Session, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing (alongside) for a grace period."""
    endpoint.previous_secret, endpoint.previous_secret_expires_at = (
        endpoint.secret,
        utcnow() + ROTATION_GRACE,
    )
    endpoint.secret = new_secret()
    session.add(endpoint)
    session.flush()
    return endpoint.secret


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id))
    session.delete(endpoint)
    session.flush()


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict("the webhook endpoint is disabled; enable it (PATCH enabled: true) before re-sending")


def retry_delivery(session: Session, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send one delivery again now (a delivered one too: the receiver may have lost it)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("webhook delivery", delivery_id)
    _require_enabled(get_endpoint(session, delivery.endpoint_id))
    delivery.status, delivery.next_attempt_at = "pending", utcnow()
    session.add(delivery)
    session.flush()
    return delivery


def replay_dead(session: Session, endpoint: WebhookEndpoint) -> int:
    _require_enabled(endpoint)
    result = session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == endpoint.id, col(WebhookDelivery.status) == "dead")
        .values(status="pending", next_attempt_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delivery_cursor(delivery: WebhookDelivery) -> str:
    return base64.urlsafe_b64encode(f"{delivery.created_at.isoformat()}|{delivery.id}".encode()).decode()


def _after_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(delivery_id)
    except ValueError as exc:
        raise InvalidInput(["query", "cursor"], "not a cursor from a previous page") from exc


def deliveries(
    session: Session, endpoint: WebhookEndpoint, status: str | None, limit: int, cursor: str | None = None
) -> list[WebhookDelivery]:
    """Newest first, keyset-paginated on (created_at, id)."""
    statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        statement = statement.where(WebhookDelivery.status == status)
    if cursor:
        created, delivery_id = _after_cursor(cursor)
        statement = statement.where(
            or_(
                col(WebhookDelivery.created_at) < created,
                (col(WebhookDelivery.created_at) == created) & (col(WebhookDelivery.id) < delivery_id),
            )
        )
    ordered = statement.order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
    return list(session.exec(ordered.limit(limit)).all())

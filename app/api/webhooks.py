"""Admin API for webhook endpoints and their delivery log (scope webhooks:write)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.handoff.endpoints import (
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookUpdate,
    create_endpoint,
    delete_endpoint,
    deliveries,
    delivery_cursor,
    get_endpoint,
    list_endpoints,
    replay_dead,
    retry_delivery,
    rotate_secret,
    update_endpoint,
    webhook_public,
)
from app.models import WebhookDelivery
from app.models import WebhookEndpoint as Endpoint

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
WebhooksWrite = Annotated[Principal, Depends(require_scope("webhooks:write"))]


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    webhook_id: str
    event_type: str
    lead_id: uuid.UUID | None
    status: str
    attempts: int
    last_status_code: int | None
    last_response_excerpt: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class SecretRotated(BaseModel):
    secret: str
    previous_secret_valid_until: datetime


class Replayed(BaseModel):
    requeued: int


def _delivery_public(delivery: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(delivery.model_dump() | {"webhook_id": f"msg_{delivery.id.hex}"})


def _created(endpoint: Endpoint) -> WebhookCreated:
    return WebhookCreated(**webhook_public(endpoint).model_dump(), secret=endpoint.secret)


@router.post("", status_code=201)
def create(body: WebhookCreate, session: SessionDep, settings: SettingsDep, _: WebhooksWrite) -> WebhookCreated:
    """Register an endpoint; the `whsec_...` signing secret is in this answer only."""
    return _created(create_endpoint(session, body, production=settings.is_production))


@router.get("")
def list_all(session: SessionDep, _: WebhooksWrite) -> list[WebhookPublic]:
    return [webhook_public(e) for e in list_endpoints(session)]


@router.get("/{webhook_id}")
def read(webhook_id: uuid.UUID, session: SessionDep, _: WebhooksWrite) -> WebhookPublic:
    return webhook_public(get_endpoint(session, webhook_id))


@router.patch("/{webhook_id}")
def update(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    session: SessionDep,
    settings: SettingsDep,
    _: WebhooksWrite,
) -> WebhookPublic:
    """Edit an endpoint; `enabled: true` re-enables one that was switched off after failures."""
    endpoint = get_endpoint(session, webhook_id)
    return webhook_public(update_endpoint(session, endpoint, body, production=settings.is_production))


@router.delete("/{webhook_id}", status_code=204)
def delete(webhook_id: uuid.UUID, session: SessionDep, _: WebhooksWrite) -> None:
    delete_endpoint(session, get_endpoint(session, webhook_id))


@router.post("/{webhook_id}/rotate-secret")
def rotate(webhook_id: uuid.UUID, session: SessionDep, _: WebhooksWrite) -> SecretRotated:
    """A new secret, shown once; the old one signs alongside it for 24 hours."""
    endpoint = get_endpoint(session, webhook_id)
    secret = rotate_secret(session, endpoint)
    assert endpoint.previous_secret_expires_at is not None
    return SecretRotated(secret=secret, previous_secret_valid_until=endpoint.previous_secret_expires_at)


@router.get("/{webhook_id}/deliveries")
def delivery_log(
    webhook_id: uuid.UUID,
    session: SessionDep,
    _: WebhooksWrite,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> DeliveriesPublic:
    """Newest first: status, attempts, last response code and body excerpt, next attempt."""
    rows = deliveries(session, get_endpoint(session, webhook_id), status, limit + 1, cursor)
    next_cursor = delivery_cursor(rows[limit - 1]) if len(rows) > limit else None
    return DeliveriesPublic(data=[_delivery_public(d) for d in rows[:limit]], next_cursor=next_cursor)


@router.post("/{webhook_id}/replay")
def replay(webhook_id: uuid.UUID, session: SessionDep, _: WebhooksWrite) -> Replayed:
    """Queue every dead delivery of this endpoint again (same webhook-id)."""
    return Replayed(requeued=replay_dead(session, get_endpoint(session, webhook_id)))


@router.post("/deliveries/{delivery_id}/retry")
def retry(delivery_id: uuid.UUID, session: SessionDep, _: WebhooksWrite) -> DeliveryPublic:
    """Send one delivery again now, with its webhook-id (409 while its endpoint is disabled)."""
    return _delivery_public(retry_delivery(session, delivery_id))

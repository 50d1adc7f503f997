"""Admin API: activity from other systems lands on leads' timelines and scores."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from sqlmodel import Session

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.errors import DomainError
from app.leads.ingest import EventBatch, EventIn, ingest
from app.settings import Settings

router = APIRouter(prefix="/events", tags=["events"])
LeadsWrite = Annotated[Principal, Depends(require_scope("leads:write"))]


class EventAccepted(BaseModel):
    event_id: uuid.UUID
    lead_id: uuid.UUID
    duplicate: bool


class BatchItemResult(BaseModel):
    index: int
    status: Literal["created", "duplicate", "error"]
    event_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    error: str | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    errors: int
    results: list[BatchItemResult]


@router.post("", status_code=201, responses={200: {"description": "a batch, or a duplicate single event"}})
def post_events(
    body: EventIn | EventBatch,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    _: LeadsWrite,
) -> EventAccepted | BatchResult:
    """One event, or `{"events": [...]}` with up to 1,000. `email` or `lead_id` names the lead;
    `idempotency_key` makes retries count once; `create_lead` creates unknown emails as subscribers."""
    if isinstance(body, EventIn):
        result = ingest(session, settings, body)
        if result.duplicate:
            response.status_code = 200
        return EventAccepted(event_id=result.event_id, lead_id=result.lead_id, duplicate=result.duplicate)
    response.status_code = 200
    return _ingest_batch(session, settings, body)


def _ingest_batch(session: Session, settings: Settings, body: EventBatch) -> BatchResult:
    """Each item succeeds or fails on its own, inside the request's one transaction."""
    results: list[BatchItemResult] = []
    for index, item in enumerate(body.events):
        try:
            with session.begin_nested():
                done = ingest(session, settings, item)
        except DomainError as exc:
            results.append(BatchItemResult(index=index, status="error", error=str(exc.detail)))
            continue
        results.append(
            BatchItemResult(
                index=index,
                status="duplicate" if done.duplicate else "created",
                event_id=done.event_id,
                lead_id=done.lead_id,
            )
        )
    return BatchResult(
        accepted=sum(r.status == "created" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        errors=sum(r.status == "error" for r in results),
        results=results,
    )

"""Reading and editing leads: lookups, the filtered list with keyset pagination, PATCH."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from app.db import note_locked, upsert_insert
from app.errors import InvalidInput, NotFound
from app.events import LeadFieldsChanged, publish
from app.leads.schemas import LeadUpdate
from app.models import Consent, Lead
from app.settings import Settings
from app.types import utcnow, uuid7


@cache
def _upsert_statement(dialect: str) -> Any:
    """Built once per dialect with bound parameters, so SQLAlchemy compiles it once."""
    insert = upsert_insert(dialect)
    columns = ("id", "email", "consent", "lifecycle_stage", "custom", "engagement_as_of", "created_at", "updated_at")
    statement = insert(Lead).values({name: bindparam(name) for name in columns})
    # A no-op update rather than DO NOTHING: it returns (and on PostgreSQL locks) the existing row.
    statement = statement.on_conflict_do_update(index_elements=["email"], set_={"email": statement.excluded.email})
    returning = statement.returning(*Lead.__table__.columns)  # type: ignore[attr-defined]
    return select(Lead).from_statement(returning).execution_options(populate_existing=True)


def upsert_lead(session: Session, email: str, lifecycle_stage: str = "lead") -> tuple[Lead, bool]:
    """The lead with this (normalised) email, created if new; safe under concurrency.

    One round trip: INSERT ... ON CONFLICT (email) DO UPDATE ... RETURNING the row. On
    PostgreSQL the upsert itself locks the row, so concurrent merges into one lead queue up
    (and `lock_lead` knows it need not lock again).
    """
    now = utcnow()
    new_id = uuid7()
    values = {
        "id": new_id,
        "email": email,
        "consent": Consent.pending,
        "lifecycle_stage": lifecycle_stage,
        "custom": {},
        "engagement_as_of": now,
        "created_at": now,
        "updated_at": now,
    }
    statement = _upsert_statement(session.get_bind().dialect.name)
    lead: Lead = session.execute(statement, values).scalars().one()
    note_locked(session, lead)
    return lead, lead.id == new_id


def get_lead(session: Session, lead_id: uuid.UUID) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.erased_at is not None:
        raise NotFound("lead", lead_id)
    return lead


@dataclass(frozen=True)
class LeadFilter:
    email: str | None = None
    funnel_stage: str | None = None
    lifecycle_stage: str | None = None
    min_score: float | None = None
    min_fit: float | None = None
    q: str | None = None
    created_after: datetime | None = None


def _encode_cursor(lead: Lead) -> str:
    return base64.urlsafe_b64encode(f"{lead.created_at.isoformat()}|{lead.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, lead_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(lead_id)
    except ValueError as exc:
        raise InvalidInput(["query", "cursor"], "not a cursor from a previous page") from exc


def list_leads(session: Session, filters: LeadFilter, limit: int, cursor: str | None) -> tuple[list[Lead], str | None]:
    """Newest first; keyset pagination on (created_at, id) so deep pages stay fast."""
    statement = select(Lead).where(col(Lead.erased_at).is_(None))
    if filters.email:
        statement = statement.where(Lead.email == filters.email.strip().lower())
    if filters.funnel_stage:
        statement = statement.where(Lead.funnel_stage == filters.funnel_stage)
    if filters.lifecycle_stage:
        statement = statement.where(Lead.lifecycle_stage == filters.lifecycle_stage)
    if filters.min_score is not None:
        statement = statement.where(col(Lead.engagement_score) >= filters.min_score)
    if filters.min_fit is not None:
        statement = statement.where(col(Lead.fit_score) >= filters.min_fit)
    if filters.created_after:
        statement = statement.where(col(Lead.created_at) > filters.created_after)
    if filters.q:
        pattern = f"%{filters.q.strip().lower()}%"
        statement = statement.where(
            or_(
                col(Lead.email).like(pattern),
                col(Lead.first_name).ilike(pattern),
                col(Lead.last_name).ilike(pattern),
                col(Lead.company).ilike(pattern),
            )
        )
    if cursor:
        created, lead_id = _decode_cursor(cursor)
        statement = statement.where(
            or_(
                col(Lead.created_at) < created,
                (col(Lead.created_at) == created) & (col(Lead.id) < lead_id),
            )
        )
    statement = statement.order_by(col(Lead.created_at).desc(), col(Lead.id).desc()).limit(limit + 1)
    leads = list(session.exec(statement).all())
    next_cursor = _encode_cursor(leads[limit - 1]) if len(leads) > limit else None
    return leads[:limit], next_cursor


def update_lead(session: Session, settings: Settings, lead: Lead, body: LeadUpdate) -> Lead:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("timezone") and changes["timezone"] not in available_timezones():
        raise InvalidInput(["body", "timezone"], "not an IANA time zone such as Europe/Berlin")
    for name, value in changes.items():
        setattr(lead, name, value)
    lead.updated_at = utcnow()
    session.add(lead)
    session.flush()
    publish(LeadFieldsChanged(session=session, settings=settings, lead_id=lead.id))
    return lead

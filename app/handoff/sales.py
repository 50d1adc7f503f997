"""Sales answers back: accept (SAL) or reject (recycle), pipeline outcomes, owners, the SLA."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.errors import Conflict, NotFound
from app.events import SalesRejected, publish
from app.handoff.outbox import queue_webhook
from app.handoff.payloads import lead_summary
from app.leads.stages import lifecycle_rank, set_lifecycle_stage
from app.leads.timeline import record_event
from app.models import Event, Lead, LifecycleStage, SalesOutcome, SalesRep
from app.scoring.service import apply_recycle
from app.settings import Settings
from app.types import utcnow

REJECTION_REASONS = (
    "no_budget",
    "no_authority",
    "no_need",
    "bad_timing",
    "bad_data",
    "competitor",
    "other",
)
# Free text from CRMs is mapped onto the codes analytics count.
REASON_WORDS = {
    "budget": "no_budget",
    "authority": "no_authority",
    "decision": "no_authority",
    "need": "no_need",
    "timing": "bad_timing",
    "later": "bad_timing",
    "data": "bad_data",
    "invalid": "bad_data",
    "competitor": "competitor",
}
OUTCOME_STAGES = {
    "sql": LifecycleStage.sql,
    "opportunity": LifecycleStage.opportunity,
    "won": LifecycleStage.customer,
}


class SalesDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject"]
    reason: str | None = Field(default=None, max_length=500)
    owner: str | None = Field(default=None, max_length=320)


class SalesOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Literal["sql", "opportunity", "won", "lost"]
    amount: float | None = Field(default=None, ge=0, le=1e12)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    reason: str | None = Field(default=None, max_length=500)
    occurred_at: datetime | None = None


def reason_code(reason: str | None) -> str:
    if not reason:
        return "other"
    text = reason.strip().lower().replace(" ", "_")
    if text in REJECTION_REASONS:
        return text
    return next((code for word, code in REASON_WORDS.items() if word in text), "other")


def decide(session: Session, settings: Settings, lead: Lead, body: SalesDecision) -> Lead:
    if lead.lifecycle_stage != LifecycleStage.mql:
        raise Conflict(f"only an MQL can be accepted or rejected; this lead is '{lead.lifecycle_stage}'")
    if body.owner:
        lead.owner = body.owner
    if body.decision == "accept":
        set_lifecycle_stage(session, settings, lead, LifecycleStage.sal)
        record_event(
            session,
            settings,
            lead,
            "sales_accepted",
            {"owner": lead.owner, "episode": lead.mql_episode},
        )
        queue_webhook(session, "lead.sales_accepted", lead.id, {"lead": lead_summary(lead)})
        return lead
    code = reason_code(body.reason)
    set_lifecycle_stage(session, settings, lead, LifecycleStage.recycled)
    apply_recycle(session, settings, lead)
    record_event(
        session,
        settings,
        lead,
        "sales_rejected",
        {
            "reason_code": code,
            "reason": body.reason,
            "owner": lead.owner,
            "episode": lead.mql_episode,
        },
    )
    queue_webhook(
        session,
        "lead.sales_rejected",
        lead.id,
        {"lead": lead_summary(lead), "reason_code": code, "reason": body.reason},
    )
    publish(SalesRejected(session=session, settings=settings, lead_id=lead.id, reason=code))
    return lead


def record_outcome(session: Session, settings: Settings, lead: Lead, body: SalesOutcomeIn) -> Lead:
    """Pipeline news from the CRM; the lifecycle only moves forward."""
    at = body.occurred_at or utcnow()
    session.add(
        SalesOutcome(
            lead_id=lead.id,
            stage=body.stage,
            amount=body.amount,
            currency=body.currency,
            reason=body.reason,
            occurred_at=at,
        )
    )
    target = OUTCOME_STAGES.get(body.stage)
    if target is not None and lifecycle_rank(target) > lifecycle_rank(lead.lifecycle_stage):
        set_lifecycle_stage(session, settings, lead, target, at)
    if body.stage == "won" and body.amount is not None:
        lead.deal_amount, lead.deal_currency = body.amount, body.currency
    session.add(lead)
    record_event(
        session,
        settings,
        lead,
        f"deal_{body.stage}",
        {"amount": body.amount, "currency": body.currency, "reason": body.reason},
        occurred_at=at,
    )
    queue_webhook(
        session,
        "lead.outcome",
        lead.id,
        {
            "lead": lead_summary(lead),
            "stage": body.stage,
            "amount": body.amount,
            "currency": body.currency,
        },
    )
    return lead


def assign_owner(session: Session, lead: Lead) -> str | None:
    """Territory first (a rep whose countries include the lead's), else round-robin."""
    if lead.owner:
        return lead.owner
    reps = list(session.exec(select(SalesRep).where(col(SalesRep.active).is_(True))).all())
    if not reps:
        return None
    country = (lead.country or "").strip().upper()
    territory = [rep for rep in reps if country and country in {c.upper() for c in rep.countries}]
    pool = territory or [rep for rep in reps if not rep.countries] or reps
    rep = min(
        pool,
        key=lambda r: (r.last_assigned_at is not None, r.last_assigned_at or utcnow(), r.email),
    )
    rep.last_assigned_at = utcnow()
    session.add(rep)
    lead.owner = rep.email
    session.add(lead)
    return rep.email


def _overdue(settings: Settings, now: datetime) -> SelectOfScalar[Lead]:
    deadline = now - timedelta(hours=settings.sal_sla_hours)
    return select(Lead).where(Lead.lifecycle_stage == LifecycleStage.mql, col(Lead.became_mql_at) < deadline)


def breached_mqls(session: Session, settings: Settings, now: datetime, limit: int = 500) -> list[Lead]:
    """MQLs waiting longer than the SLA without a decision, longest wait first (the UI's flag)."""
    statement = _overdue(settings, now).order_by(col(Lead.became_mql_at)).limit(limit)
    return list(session.exec(statement).all())


def unflagged_breaches(session: Session, settings: Settings, now: datetime, limit: int = 500) -> list[Lead]:
    """Breaching MQLs whose current episode has no `sla_breached` event yet."""
    episode = col(Event.properties)["episode"].as_integer()
    flagged = select(Event.id).where(
        Event.lead_id == Lead.id, Event.type == "sla_breached", episode == Lead.mql_episode
    )
    statement = _overdue(settings, now).where(~flagged.exists()).order_by(col(Lead.became_mql_at)).limit(limit)
    # Workers running the job at the same moment skip each other's leads (PostgreSQL; SQLite
    # has one writer anyway); the event's idempotency key is the backstop.
    return list(session.exec(statement.with_for_update(skip_locked=True, of=Lead)).all())


def flag_sla_breach(session: Session, settings: Settings, lead: Lead, now: datetime) -> None:
    assert lead.became_mql_at is not None
    waited = round((now - lead.became_mql_at).total_seconds() / 3600, 1)
    record_event(
        session,
        settings,
        lead,
        "sla_breached",
        {"episode": lead.mql_episode, "hours_waiting": waited, "owner": lead.owner},
        occurred_at=now,
        idempotency_key=f"sla_breached:{lead.id}:{lead.mql_episode}",
    )
    queue_webhook(
        session,
        "lead.sla_breached",
        lead.id,
        {"lead": lead_summary(lead), "hours_waiting": waited, "sla_hours": settings.sal_sla_hours},
    )


class SalesRepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    countries: list[str] = Field(
        default_factory=list, max_length=300, description="territory: ISO country codes; empty = any country"
    )
    active: bool = True


class SalesRepUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    countries: list[str] | None = Field(default=None, max_length=300)
    active: bool | None = None


def sales_reps(session: Session) -> list[SalesRep]:
    return list(session.exec(select(SalesRep).order_by(col(SalesRep.email))).all())


def get_rep(session: Session, rep_id: uuid.UUID) -> SalesRep:
    rep = session.get(SalesRep, rep_id)
    if rep is None:
        raise NotFound("sales rep", rep_id)
    return rep


def create_rep(session: Session, body: SalesRepIn) -> SalesRep:
    rep = SalesRep(**body.model_dump() | {"email": body.email.lower(), "countries": _countries(body.countries)})
    session.add(rep)
    try:
        with session.begin_nested():  # the unique email decides, also between concurrent requests
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a sales rep {rep.email} already exists") from exc
    return rep


def update_rep(session: Session, rep: SalesRep, body: SalesRepUpdate) -> SalesRep:
    """Rename, change the territory, or deactivate (an inactive rep gets no new MQLs)."""
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes:
        rep.name = body.name
    if body.countries is not None:
        rep.countries = _countries(body.countries)
    if body.active is not None:
        rep.active = body.active
    session.add(rep)
    session.flush()
    return rep


def _countries(codes: list[str]) -> list[str]:
    return sorted({code.strip().upper() for code in codes if code.strip()})

"""Stage changes: the lifecycle moves forward only (except recycle), every change is history.

Both funnel and lifecycle changes write a `stage_change` row, a `stage_changed` timeline
event, and publish `StageChanged` for whoever reacts (nurture triggers, webhooks).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.events import StageChanged, publish
from app.models import Event, FunnelStage, Lead, LifecycleStage, StageChange
from app.settings import Settings
from app.types import utcnow

LIFECYCLE_ORDER = [
    LifecycleStage.subscriber,
    LifecycleStage.lead,
    LifecycleStage.mql,
    LifecycleStage.sal,
    LifecycleStage.sql,
    LifecycleStage.opportunity,
    LifecycleStage.customer,
]
FUNNEL_ORDER = [FunnelStage.tofu, FunnelStage.mofu, FunnelStage.bofu]


def lifecycle_rank(stage: str) -> int:
    """Rank on the forward path; recycled sits with `lead` (it can become MQL again)."""
    if stage == LifecycleStage.recycled:
        return LIFECYCLE_ORDER.index(LifecycleStage.lead)
    if stage == LifecycleStage.disqualified:
        return -1
    return LIFECYCLE_ORDER.index(LifecycleStage(stage))


def can_move_lifecycle(current: str, target: str) -> bool:
    """Forward only; `recycled` and `disqualified` are the sanctioned ways back or out."""
    if target in (LifecycleStage.recycled, LifecycleStage.disqualified):
        return current != target
    if current == LifecycleStage.disqualified:
        return False
    return lifecycle_rank(target) > lifecycle_rank(current)


def _record(
    session: Session,
    settings: Settings,
    lead: Lead,
    kind: str,
    old: str | None,
    new: str,
    at: datetime,
) -> None:
    session.add(StageChange(lead_id=lead.id, kind=kind, from_stage=old, to_stage=new, changed_at=at))
    session.add(
        Event(
            lead_id=lead.id,
            type="stage_changed",
            properties={"kind": kind, "from": old, "to": new},
            occurred_at=at,
        )
    )
    session.flush()
    publish(
        StageChanged(
            session=session,
            settings=settings,
            lead_id=lead.id,
            kind=kind,
            from_stage=old,
            to_stage=new,
            at=at,
        )
    )


def set_lifecycle_stage(
    session: Session, settings: Settings, lead: Lead, target: str, at: datetime | None = None
) -> bool:
    """Move the lifecycle stage if the rules allow it; returns whether it moved."""
    if not can_move_lifecycle(lead.lifecycle_stage, target):
        return False
    old, lead.lifecycle_stage = lead.lifecycle_stage, target
    lead.updated_at = utcnow()
    session.add(lead)
    _record(session, settings, lead, "lifecycle", old, target, at or utcnow())
    return True


def set_funnel_stage(session: Session, settings: Settings, lead: Lead, target: str, at: datetime | None = None) -> bool:
    """Funnel stages may go up or down (engagement decays); returns whether it changed."""
    if lead.funnel_stage == target:
        return False
    old, lead.funnel_stage = lead.funnel_stage, target
    lead.updated_at = utcnow()
    session.add(lead)
    _record(session, settings, lead, "funnel", old, target, at or utcnow())
    return True


def record_initial_stages(session: Session, lead: Lead, at: datetime | None = None) -> None:
    """A new lead's starting stages are history too (analytics count entries per stage)."""
    when = at or lead.created_at
    session.add(
        StageChange(
            lead_id=lead.id,
            kind="lifecycle",
            from_stage=None,
            to_stage=lead.lifecycle_stage,
            changed_at=when,
        )
    )
    session.add(
        StageChange(
            lead_id=lead.id,
            kind="funnel",
            from_stage=None,
            to_stage=lead.funnel_stage,
            changed_at=when,
        )
    )

"""Stage changes: the lifecycle moves forward only (except recycle), every change is history.

Both funnel and lifecycle changes write a `stage_change` row, a `stage_changed` timeline
event, and publish `StageChanged` for whoever reacts (nurture triggers, webhooks).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, or_, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db import upsert_insert
from app.events import StageChanged, publish
from app.models import Event, FunnelProgress, FunnelStage, Lead, LifecycleStage, StageChange
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
# The whole path a lead can travel, as analytics draw it: funnel stages, then lifecycle ones.
FUNNEL_PATH = ["tofu", "mofu", "bofu", "mql", "sal", "sql", "opportunity", "customer"]
PATH_RANK = {stage: rank for rank, stage in enumerate(FUNNEL_PATH)}


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
    if new in PATH_RANK:
        session.execute(_progress_upsert(session.get_bind().dialect.name, new), _progress_values(lead, new, at))
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
    reached = [stage for stage in (lead.funnel_stage, lead.lifecycle_stage) if stage in PATH_RANK]
    if reached:
        progress = FunnelProgress(lead_id=lead.id, lead_created_at=lead.created_at)
        for stage in reached:
            setattr(progress, f"{stage}_at", when)
        progress.furthest_rank = max(PATH_RANK[stage] for stage in reached)
        session.add(progress)


def _progress_values(lead: Lead, stage: str, at: datetime) -> dict[str, Any]:
    return {"lead_id": lead.id, "lead_created_at": lead.created_at, "rank": PATH_RANK[stage], "at": at}


@cache
def _progress_upsert(dialect: str, stage: str) -> Any:
    """Note that a lead reached `stage` at :at: keep the earliest time and the furthest rank.

    An upsert, so leads created before the table existed (or by bulk loads) get their row.
    """
    insert_into = upsert_insert(dialect)
    column = f"{stage}_at"
    statement = insert_into(FunnelProgress).values(
        lead_id=bindparam("lead_id"),
        lead_created_at=bindparam("lead_created_at"),
        furthest_rank=bindparam("rank"),
        **{column: bindparam("at")},
    )
    table = FunnelProgress.__table__.c  # type: ignore[attr-defined]
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["lead_id"],
        set_={
            column: case((or_(table[column].is_(None), table[column] > new[column]), new[column]), else_=table[column]),
            "furthest_rank": case(
                (table.furthest_rank < new.furthest_rank, new.furthest_rank), else_=table.furthest_rank
            ),
        },
    )


def rebuild_funnel_progress(session: Session | Connection) -> int:
    """Recompute every lead's funnel progress from the stage history, set-based.

    For bulk loads (seeds, the demo) that write stage history directly, and as the
    reference the incremental upkeep is tested against. Returns the rows written.
    """
    history = StageChange.__table__.c  # type: ignore[attr-defined]
    leads = Lead.__table__.c  # type: ignore[attr-defined]
    rank = case(PATH_RANK, value=history.to_stage)
    firsts = [func.min(case((history.to_stage == stage, history.changed_at))) for stage in FUNNEL_PATH]
    rows = (
        select(history.lead_id, leads.created_at, func.max(rank), *firsts)
        .join(Lead.__table__, leads.id == history.lead_id)  # type: ignore[attr-defined]
        .where(history.to_stage.in_(FUNNEL_PATH))
        .group_by(history.lead_id, leads.created_at)
    )
    columns = ["lead_id", "lead_created_at", "furthest_rank", *(f"{stage}_at" for stage in FUNNEL_PATH)]
    session.execute(delete(FunnelProgress))
    session.execute(insert(FunnelProgress).from_select(columns, rows))
    return int(session.execute(select(func.count()).select_from(FunnelProgress)).scalar_one())

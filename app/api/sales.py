"""Sales systems answer back: decisions on MQLs, pipeline outcomes; and the reps to assign."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.errors import Conflict, NotFound
from app.handoff.sales import SalesDecision, SalesOutcomeIn, decide, record_outcome, sales_reps
from app.leads.schemas import LeadPublic, lead_public
from app.leads.service import get_lead
from app.models import SalesRep

router = APIRouter(tags=["sales"])
LeadsWrite = Annotated[Principal, Depends(require_scope("leads:write"))]


class SalesRepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    countries: list[str] = Field(default_factory=list, description="territory: ISO country codes")
    active: bool = True


class SalesRepPublic(SalesRepIn):
    id: uuid.UUID


@router.post("/leads/{lead_id}/sales-decision")
def sales_decision(
    lead_id: uuid.UUID,
    body: SalesDecision,
    session: SessionDep,
    settings: SettingsDep,
    _: LeadsWrite,
) -> LeadPublic:
    """accept → SAL (owner recorded); reject → recycled back into nurture, with a reason code."""
    return lead_public(decide(session, settings, get_lead(session, lead_id), body))


@router.post("/leads/{lead_id}/sales-outcome")
def sales_outcome(
    lead_id: uuid.UUID,
    body: SalesOutcomeIn,
    session: SessionDep,
    settings: SettingsDep,
    _: LeadsWrite,
) -> LeadPublic:
    """sql | opportunity | won | lost from the CRM; amounts feed deal size, win rate, velocity."""
    return lead_public(record_outcome(session, settings, get_lead(session, lead_id), body))


@router.get("/sales-reps")
def list_reps(session: SessionDep, _: LeadsWrite) -> list[SalesRepPublic]:
    return [SalesRepPublic.model_validate(rep, from_attributes=True) for rep in sales_reps(session)]


@router.post("/sales-reps", status_code=201)
def create_rep(body: SalesRepIn, session: SessionDep, _: LeadsWrite) -> SalesRepPublic:
    rep = SalesRep(
        **body.model_dump() | {"email": body.email.lower(), "countries": [c.upper() for c in body.countries]}
    )
    session.add(rep)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a sales rep {body.email} already exists") from exc
    return SalesRepPublic.model_validate(rep, from_attributes=True)


@router.delete("/sales-reps/{rep_id}", status_code=204)
def delete_rep(rep_id: uuid.UUID, session: SessionDep, _: LeadsWrite) -> None:
    rep = session.get(SalesRep, rep_id)
    if rep is None:
        raise NotFound("sales rep", rep_id)
    session.delete(rep)

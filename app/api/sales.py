"""Sales systems answer back: decisions on MQLs, pipeline outcomes; and the reps to assign."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.handoff.sales import (
    SalesDecision,
    SalesOutcomeIn,
    SalesRepIn,
    SalesRepUpdate,
    create_rep,
    decide,
    get_rep,
    record_outcome,
    sales_reps,
    update_rep,
)
from app.leads.schemas import LeadPublic, lead_public
from app.leads.service import get_lead
from app.models import SalesRep

router = APIRouter(tags=["sales"])
LeadsWrite = Annotated[Principal, Depends(require_scope("leads:write"))]


class SalesRepPublic(SalesRepIn):
    id: uuid.UUID


def _rep_public(rep: SalesRep) -> SalesRepPublic:
    return SalesRepPublic.model_validate(rep, from_attributes=True)


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
    return [_rep_public(rep) for rep in sales_reps(session)]


@router.post("/sales-reps", status_code=201)
def add_rep(body: SalesRepIn, session: SessionDep, _: LeadsWrite) -> SalesRepPublic:
    """A rep new MQLs can be assigned to: by territory (`countries`), else round-robin."""
    return _rep_public(create_rep(session, body))


@router.get("/sales-reps/{rep_id}")
def read_rep(rep_id: uuid.UUID, session: SessionDep, _: LeadsWrite) -> SalesRepPublic:
    return _rep_public(get_rep(session, rep_id))


@router.patch("/sales-reps/{rep_id}")
def edit_rep(rep_id: uuid.UUID, body: SalesRepUpdate, session: SessionDep, _: LeadsWrite) -> SalesRepPublic:
    return _rep_public(update_rep(session, get_rep(session, rep_id), body))


@router.delete("/sales-reps/{rep_id}", status_code=204)
def delete_rep(rep_id: uuid.UUID, session: SessionDep, _: LeadsWrite) -> None:
    """Leads keep the owner they were given; the rep only stops getting new ones."""
    session.delete(get_rep(session, rep_id))

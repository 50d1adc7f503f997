"""Admin API for scoring: the model, re-scoring, and a lead's explained score."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.access.service import Principal
from app.api.deps import SessionDep, require_scope
from app.errors import NotFound
from app.leads.service import get_lead
from app.models import RescoreJob
from app.scoring.explain import explain
from app.scoring.jobs import start_rescore
from app.scoring.model import ScoringModelConfig
from app.scoring.service import active_model, save_model

router = APIRouter(tags=["scoring"])
Admin = Annotated[Principal, Depends(require_scope("admin"))]
LeadsRead = Annotated[Principal, Depends(require_scope("leads:read"))]


class ScoringModelPublic(BaseModel):
    version: int
    model: ScoringModelConfig


class RescoreJobPublic(BaseModel):
    job_id: uuid.UUID
    state: str
    done: int
    total: int
    model_version: int
    created_at: datetime
    finished_at: datetime | None


def _job_public(job: RescoreJob) -> RescoreJobPublic:
    return RescoreJobPublic(
        job_id=job.id,
        state=job.state,
        done=job.done,
        total=job.total,
        model_version=job.model_version,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


@router.get("/scoring/model")
def get_model(session: SessionDep, _: LeadsRead) -> ScoringModelPublic:
    active = active_model(session)
    return ScoringModelPublic(version=active.version, model=active.config)


@router.put("/scoring/model")
def put_model(body: ScoringModelConfig, session: SessionDep, _: Admin) -> ScoringModelPublic:
    """Validate and store a new version (it applies to new events; re-score to apply it to all)."""
    saved = save_model(session, body)
    return ScoringModelPublic(version=saved.version, model=saved.config)


@router.post("/scoring/rescore", status_code=202)
def rescore(session: SessionDep, _: Admin) -> RescoreJobPublic:
    """Queue a re-score of every lead; the scheduler runs it in batches."""
    return _job_public(start_rescore(session))


@router.get("/scoring/rescore/{job_id}")
def rescore_progress(job_id: uuid.UUID, session: SessionDep, _: Admin) -> RescoreJobPublic:
    job = session.get(RescoreJob, job_id)
    if job is None:
        raise NotFound("re-score job", job_id)
    return _job_public(job)


@router.get("/leads/{lead_id}/score")
def lead_score(lead_id: uuid.UUID, session: SessionDep, _: LeadsRead) -> dict[str, Any]:
    """The score explained: which rules gave which points, decay applied, stage and MQL."""
    return explain(session, get_lead(session, lead_id))

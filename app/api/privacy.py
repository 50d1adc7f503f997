"""GDPR/CCPA endpoints: export a person's data, erase it; the streamed CSV export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from app.access.service import Principal
from app.api.deps import DatabaseDep, SessionDep, SettingsDep, require_scope
from app.privacy.csv_export import stream_leads_csv
from app.privacy.service import erase_lead, export_lead

router = APIRouter(prefix="/leads", tags=["privacy"])
LeadsRead = Annotated[Principal, Depends(require_scope("leads:read"))]
LeadsWrite = Annotated[Principal, Depends(require_scope("leads:write"))]


@router.get("/export.csv", response_class=StreamingResponse)
def export_csv(db: DatabaseDep, _: LeadsRead) -> StreamingResponse:
    """All leads as CSV, streamed (cells that would be spreadsheet formulas are escaped)."""
    return StreamingResponse(
        stream_leads_csv(db),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


@router.get("/{lead_id}/export")
def export_person(lead_id: uuid.UUID, session: SessionDep, _: LeadsRead) -> dict[str, Any]:
    """Everything held about this person (GDPR art. 15 / CCPA right to know)."""
    return export_lead(session, lead_id)


@router.delete("/{lead_id}", status_code=204)
def erase_person(lead_id: uuid.UUID, session: SessionDep, settings: SettingsDep, principal: LeadsWrite) -> None:
    """Erase the person's data everywhere; anonymous aggregates stay, the address is suppressed."""
    erase_lead(session, settings, lead_id, actor=f"api-key:{principal.name}")

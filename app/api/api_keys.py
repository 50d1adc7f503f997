"""Admin API for API keys: create (shown once), list, revoke."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import select

from app.access.service import SCOPES, Principal, create_api_key
from app.api.deps import SessionDep, require_scope
from app.errors import NotFound
from app.models import ApiKey
from app.types import utcnow

router = APIRouter(prefix="/api-keys", tags=["access"])
AdminDep = Annotated[Principal, Depends(require_scope("admin"))]


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["admin"], description=", ".join(SCOPES))


class ApiKeyPublic(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself. Shown only in this response.")


def _public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(row, from_attributes=True)


@router.post("", status_code=201)
def create_key(body: ApiKeyCreate, session: SessionDep, _: AdminDep) -> ApiKeyCreated:
    row, plaintext = create_api_key(session, body.name, body.scopes)
    return ApiKeyCreated(**_public(row).model_dump(), key=plaintext)


@router.get("")
def list_keys(session: SessionDep, _: AdminDep) -> list[ApiKeyPublic]:
    rows = session.exec(select(ApiKey).order_by(ApiKey.created_at)).all()  # type: ignore[arg-type]
    return [_public(row) for row in rows]


@router.delete("/{key_id}", status_code=204)
def revoke_key(key_id: uuid.UUID, session: SessionDep, _: AdminDep) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("API key", key_id)
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)

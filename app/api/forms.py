"""Admin API for forms (scope forms:write)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.capture.forms import (
    archive_form,
    create_form,
    form_public,
    get_live_form,
    list_forms,
    update_form,
)
from app.capture.schemas import FormCreate, FormPublic, FormUpdate

router = APIRouter(prefix="/forms", tags=["forms"])
FormsWrite = Annotated[Principal, Depends(require_scope("forms:write"))]


@router.post("", status_code=201)
def create(body: FormCreate, session: SessionDep, settings: SettingsDep, _: FormsWrite) -> FormPublic:
    """Create a form; a form needs an `email` field, slugs are unique (409)."""
    return form_public(create_form(session, body), settings.base_url)


@router.get("")
def list_all(session: SessionDep, settings: SettingsDep, _: FormsWrite) -> list[FormPublic]:
    return [form_public(form, settings.base_url) for form in list_forms(session)]


@router.get("/{slug}")
def read(slug: str, session: SessionDep, settings: SettingsDep, _: FormsWrite) -> FormPublic:
    return form_public(get_live_form(session, slug), settings.base_url)


@router.patch("/{slug}")
def update(slug: str, body: FormUpdate, session: SessionDep, settings: SettingsDep, _: FormsWrite) -> FormPublic:
    return form_public(update_form(session, get_live_form(session, slug), body), settings.base_url)


@router.delete("/{slug}", status_code=204)
def archive(slug: str, session: SessionDep, _: FormsWrite) -> None:
    """Archive the form: its page and endpoint answer 404; its submissions stay."""
    archive_form(session, get_live_form(session, slug))

"""Forms as configuration: create, read, update, archive."""

from __future__ import annotations

import html
import uuid

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.capture.schemas import FormCreate, FormPublic, FormSettings, FormUpdate
from app.errors import Conflict, InvalidInput, NotFound
from app.models import Form, Sequence
from app.types import utcnow


class FormNotFound(NotFound):
    def __init__(self, slug: str) -> None:
        super().__init__("form", slug)


def get_live_form(session: Session, slug: str) -> Form:
    """A form that is not archived, by slug, or FormNotFound."""
    form = session.exec(select(Form).where(Form.slug == slug, Form.archived_at.is_(None))).first()  # type: ignore[union-attr]
    if form is None:
        raise FormNotFound(slug)
    return form


def list_forms(session: Session) -> list[Form]:
    statement = select(Form).where(Form.archived_at.is_(None)).order_by(Form.created_at)  # type: ignore[union-attr, arg-type]
    return list(session.exec(statement).all())


def _check_sequence(session: Session, sequence_id: uuid.UUID | None) -> None:
    if sequence_id is not None and session.get(Sequence, sequence_id) is None:
        raise InvalidInput("sequence_id", f"no sequence {sequence_id}")


def create_form(session: Session, body: FormCreate) -> Form:
    _check_sequence(session, body.sequence_id)
    if session.exec(select(Form.id).where(Form.slug == body.slug)).first() is not None:
        raise Conflict(f"a form with slug '{body.slug}' already exists")
    form = Form(
        slug=body.slug,
        **body.model_dump(mode="json", exclude={"slug", "sequence_id"}),
        sequence_id=body.sequence_id,
    )
    session.add(form)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent create with the same slug
        raise Conflict(f"a form with slug '{body.slug}' already exists") from exc
    return form


def update_form(session: Session, form: Form, body: FormUpdate) -> Form:
    current = FormSettings.model_validate(form, from_attributes=True).model_dump()
    try:
        merged = FormSettings.model_validate(current | body.model_dump(exclude_unset=True))
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc
    _check_sequence(session, merged.sequence_id)
    for name, value in merged.model_dump(mode="json", exclude={"sequence_id"}).items():
        setattr(form, name, value)
    form.sequence_id = merged.sequence_id
    form.updated_at = utcnow()
    session.add(form)
    session.flush()
    return form


def archive_form(session: Session, form: Form) -> None:
    """Forms are archived, not deleted: submissions keep pointing at them."""
    form.archived_at = utcnow()
    # Free the slug for reuse while keeping the row.
    form.slug = f"{form.slug}--archived-{form.id.hex[:8]}"[:100]
    session.add(form)
    session.flush()


def embed_html(form: Form, base_url: str) -> str:
    """A plain HTML form a marketer can paste into any page; works without JavaScript."""
    action = html.escape(f"{base_url}/api/v1/forms/{form.slug}/submissions", quote=True)
    lines = [f'<form method="post" action="{action}">']
    for field in form.fields:
        name = html.escape(field["name"], quote=True)
        label = html.escape(field.get("label") or field["name"].replace("_", " ").capitalize())
        required = " required" if field.get("required") else ""
        kind = {"email": "email", "number": "number", "phone": "tel", "hidden": "hidden"}.get(field["type"], "text")
        lines.append(f'  <label>{label} <input type="{kind}" name="{name}"{required}></label>')
    if form.honeypot_field:
        trap = html.escape(form.honeypot_field, quote=True)
        lines.append(
            f'  <input type="text" name="{trap}" tabindex="-1" autocomplete="off" '
            'style="position:absolute;left:-9999px" aria-hidden="true">'
        )
    lines.append('  <button type="submit">Submit</button>')
    lines.append("</form>")
    return "\n".join(lines)


def form_public(form: Form, base_url: str) -> FormPublic:
    return FormPublic.model_validate(
        {
            **FormSettings.model_validate(form, from_attributes=True).model_dump(),
            "id": form.id,
            "slug": form.slug,
            "created_at": form.created_at,
            "updated_at": form.updated_at,
            "hosted_url": f"{base_url}/forms/{form.slug}",
            "embed_html": embed_html(form, base_url),
        }
    )

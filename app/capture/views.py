"""Counting hosted form page views (per form and day; a counter, no personal data)."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models import FormView
from app.types import utcnow


def count_form_view(session: Session, form_id: uuid.UUID) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(FormView).values(form_id=form_id, day=utcnow().date().isoformat(), views=1)
    statement = statement.on_conflict_do_update(
        index_elements=["form_id", "day"],
        set_={"views": FormView.views + 1},
    )
    session.execute(statement)

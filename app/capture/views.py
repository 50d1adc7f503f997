"""Counting hosted form page views (per form and day; a counter, no personal data)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from app.db import upsert_insert
from app.models import FormView
from app.types import utcnow


def count_form_view(session: Session, form_id: uuid.UUID) -> None:
    insert = upsert_insert(session.get_bind().dialect.name)
    statement = insert(FormView).values(form_id=form_id, day=utcnow().date().isoformat(), views=1)
    statement = statement.on_conflict_do_update(
        index_elements=["form_id", "day"],
        set_={"views": FormView.views + 1},
    )
    session.execute(statement)

"""`leadnurture backup` / `restore` round-trip on the database under test."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from app.db import Database
from app.models import Lead
from app.operations.backup import backup, restore


def test_backup_then_restore_brings_back_the_data(db: Database, database_url: str, tmp_path: Path) -> None:
    with db.transaction() as session:
        session.add(Lead(email="kept@example.com"))
    archive = backup(database_url, tmp_path / "leadnurture.backup")
    with db.transaction() as session:
        session.add(Lead(email="after-backup@example.com"))
    db.dispose()  # restore needs the database to itself, like an operator stopping serve
    restore(database_url, archive)
    with db.transaction() as session:
        emails = {lead.email for lead in session.exec(select(Lead)).all()}
    assert emails == {"kept@example.com"}

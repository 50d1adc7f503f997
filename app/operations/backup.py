"""Backups: SQLite through its online backup API, PostgreSQL through pg_dump/pg_restore."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from app.errors import DomainError


def _libpq_url(database_url: str) -> str:
    # pg_dump speaks libpq URLs, not SQLAlchemy's "postgresql+psycopg://".
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise DomainError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup(database_url: str, target: Path) -> Path:
    """Write a consistent copy of the live database to `target` (safe while serving)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if make_url(database_url).get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(database_url))
        destination = sqlite3.connect(target)
        with destination:
            source.backup(destination)  # pages copied under SQLite's own locking
        destination.close()
        source.close()
        return target
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url(database_url)])
    return target


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with a backup. Stop `serve` and workers first."""
    if not source.exists():
        raise DomainError(f"no backup at {source}")
    if make_url(database_url).get_backend_name() == "sqlite":
        live = _sqlite_path(database_url)
        for suffix in ("-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, live)
        return
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            f"--dbname={_libpq_url(database_url)}",
            str(source),
        ]
    )


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise DomainError(f"{command[0]} is not installed (Debian: postgresql-client)")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise DomainError(f"{command[0]} failed: {result.stderr.strip()[:500]}")

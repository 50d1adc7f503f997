"""Engine and session factory: SQLite tuned for a service, PostgreSQL through psycopg 3."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine

from app.settings import Settings

# On SQLite only one writer runs at a time; the dispatcher uses this lock so that two
# threads of one process never claim the same due rows (PostgreSQL uses SKIP LOCKED).
sqlite_claim_lock = threading.Lock()


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite lacks power(); the set-based decay re-base needs 0.5 ** x.
    dbapi_connection.create_function("pow_half", 1, lambda x: math.pow(0.5, x), deterministic=True)


def _begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN so read-then-write transactions never deadlock
    # into SQLITE_BUSY half-way; busy_timeout then queues writers politely.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def upsert_insert(dialect: str) -> Any:
    """The dialect's `insert`, the one with ON CONFLICT (both backends support it)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def make_engine(database_url: str, pool_size: int = 10) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "isolation_level": None},
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Error messages would otherwise carry bound values (emails) into the logs.
        hide_parameters=True,
    )


class Database:
    """Owns the engine and hands out sessions; one per app (tests make their own)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings.database_url, settings.db_pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessionmaker = sessionmaker(self.engine, class_=Session, expire_on_commit=False, autoflush=False)

    def session(self) -> Session:
        return self._sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work for jobs and CLI commands: commit on success, roll back on error."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


# What this transaction has learnt and may reuse until it ends or anything rolls back:
# rows it holds a lock on (PostgreSQL), lead ids by email.
_MEMO_KEY = "transaction_memo"


def transaction_memo(session: Session) -> dict[str, Any]:
    memo: dict[str, Any] = session.info.setdefault(_MEMO_KEY, {})
    return memo


def note_locked(session: Session, row: Any) -> None:
    """Remember a row this transaction locked; holding it also keeps it in the identity map."""
    transaction_memo(session).setdefault("locked", {})[row.id] = row


def locked_row(session: Session, row_id: object) -> Any | None:
    """The row, if this transaction already holds its lock."""
    return transaction_memo(session).get("locked", {}).get(row_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: Any) -> None:
    # Row locks last until the real transaction ends; a released savepoint keeps them.
    if transaction.parent is None:
        session.info.pop(_MEMO_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: Any) -> None:
    # A rolled-back savepoint undoes rows and releases locks taken inside it: forget it all.
    session.info.pop(_MEMO_KEY, None)

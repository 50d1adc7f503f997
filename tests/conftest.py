"""Fixtures: every integration test runs against SQLite and, when
LEADNURTURE_TEST_POSTGRES_URL is set, against PostgreSQL too (a fresh database per run)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlmodel import SQLModel

from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.scoring.service import model_cache
from app.settings import Settings

ADMIN_KEY = "test-admin-key-0123456789"
POSTGRES_URL = os.environ.get("LEADNURTURE_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _fresh_postgres_database(base_url: str) -> tuple[str, str]:
    """Create an empty database beside the given one; concurrent runs never collide."""
    name = f"leadnurture_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(make_url(base_url).set(database=name).render_as_string(hide_password=False)), name


def _drop_postgres_database(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database migrated to head by Alembic, for the whole test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url
        return
    url, name = _fresh_postgres_database(POSTGRES_URL)
    upgrade(url)
    yield url
    _drop_postgres_database(POSTGRES_URL, name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        bootstrap_api_key=ADMIN_KEY,
        outbox_dir=tmp_path / "outbox",
        base_url="http://testserver",
        smtp_url="",
        run_scheduler=False,
        db_pool_size=5,
        public_rate_limit_per_minute=100_000,
    )


def _empty_all_tables(db: Database) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        else:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings, run_scheduler=False)
    yield application
    model_cache.clear()
    _empty_all_tables(application.state.db)
    application.state.db.dispose()


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An admin client: every request carries the bootstrap key."""
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as test_client:
        yield test_client


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client without credentials, like a website visitor's browser."""
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client

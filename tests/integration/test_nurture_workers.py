"""Several dispatchers against one PostgreSQL send each email exactly once; a worker killed
mid-batch sends nothing twice, and leaves at most the messages it had handed to the SMTP
server in doubt (status 'unknown', never resent)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import Database
from app.nurture.dispatcher import dispatch
from app.nurture.transports import UNRECORDED_LIMIT, SmtpConfig, SmtpTransport
from app.settings import Settings
from app.types import utcnow
from tests.factories import due_enrollments
from tests.integration.processes import free_port, service_env
from tests.integration.smtp import SmtpServer

pytestmark = pytest.mark.slow


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def _workers(database_url: str, smtp: SmtpServer, tmp_path: Path, count: int) -> list[subprocess.Popen[bytes]]:
    env = service_env(database_url, tmp_path, LEADNURTURE_TICK_SECONDS="0.2", LEADNURTURE_SMTP_URL=smtp.url)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]


def _wait_for(smtp: SmtpServer, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while len(smtp.sink.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_two_workers_and_serve_send_2000_due_emails_exactly_once(
    db: Database, database_url: str, settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share work through SKIP LOCKED on PostgreSQL")
    due_enrollments(db, 2000)
    workers = _workers(database_url, smtp, tmp_path, 2)
    try:
        transport = SmtpTransport(SmtpConfig.from_url(smtp.url))
        deadline = time.monotonic() + 90
        while len(smtp.sink.messages) < 2000 and time.monotonic() < deadline:
            dispatch(db, settings, transport=transport)  # the in-process scheduler of `serve`
            time.sleep(0.05)
        _wait_for(smtp, 2000, 5)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
    per_address = Counter(m["To"] for m in smtp.sink.messages)
    assert len(per_address) == 2000
    assert max(per_address.values()) == 1


def test_worker_killed_mid_batch_sends_nothing_twice(
    db: Database,
    database_url: str,
    settings: Settings,
    smtp: SmtpServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlmodel import select

    from app.models import Message

    due_enrollments(db, 600)
    [worker] = _workers(database_url, smtp, tmp_path, 1)
    _wait_for(smtp, 150, 60)
    worker.kill()
    worker.wait(timeout=10)
    sent_before_kill = len(smtp.sink.messages)
    assert 0 < sent_before_kill < 600
    later = utcnow() + timedelta(minutes=6)  # past the send lease of the dead worker
    dispatch(db, settings, clock=lambda: later, transport=SmtpTransport(SmtpConfig.from_url(smtp.url)))
    per_address = Counter(m["To"] for m in smtp.sink.messages)
    with db.transaction() as session:
        statuses = {m.to_address: m.status for m in session.exec(select(Message))}
    in_doubt = {address for address, status in statuses.items() if status == "unknown"}
    with capsys.disabled():
        print(  # noqa: T201  (the issue asks for the measured count in the run's output)
            f"\n[kill -9 mid-batch: {sent_before_kill} sent before the kill; {len(per_address)} of 600 delivered, "
            f"{max(per_address.values()) - 1} sent twice, {len(in_doubt)} left in doubt "
            f"({len(in_doubt & set(per_address))} of those had gone out)]"
        )
    assert max(per_address.values()) == 1  # nothing twice
    assert set(statuses.values()) <= {"sent", "unknown"}
    assert len(in_doubt) <= UNRECORDED_LIMIT  # only what was handed over and not yet recorded
    assert set(statuses) - set(per_address) <= in_doubt  # anything not delivered is marked, not lost silently


def test_sigterm_finishes_the_claimed_batch_and_leaves_the_rest_due(
    db: Database, database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    from sqlmodel import func, select

    from app.models import Message

    due_enrollments(db, 300)
    smtp.sink.delay = 0.05  # a slow server: the worker is mid-batch when it is told to stop
    [worker] = _workers(database_url, smtp, tmp_path, 1)
    _wait_for(smtp, 5, 60)
    worker.terminate()  # SIGTERM
    assert worker.wait(timeout=60) == 0
    with db.transaction() as session:
        by_status = dict(session.exec(select(Message.status, func.count()).group_by(Message.status)).all())
    assert by_status.get("sending", 0) == 0  # nothing left claimed-but-unrecorded
    assert by_status.get("sent", 0) == len(smtp.sink.messages)  # every send it made is recorded
    assert len(smtp.sink.messages) < 300  # it stopped claiming: the rest stays due for others

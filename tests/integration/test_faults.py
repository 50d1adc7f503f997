"""Faults: nothing acknowledged is ever lost (SPEC §8).

Real `leadnurture serve` subprocesses under load, killed with SIGKILL or cut off from a
restarting PostgreSQL; afterwards every 2xx answer must have its rows in the database.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.handoff.delivery import deliver_due
from app.models import Lead, Submission, WebhookDelivery
from app.settings import Settings
from app.types import utcnow
from tests.conftest import ADMIN_KEY
from tests.factories import make_form, submit
from tests.integration.processes import Service, free_port, running_service, service_env
from tests.integration.receiver import Receiver, Reply

pytestmark = pytest.mark.slow

FORM = {
    "slug": "fault-form",
    "name": "Fault form",
    "kind": "contact",
    "fields": [{"name": "email", "type": "email", "required": True}],
}


class CaptureLoad:
    """Threads posting unique captures until stopped; remembers what was acknowledged."""

    def __init__(self, base_url: str, threads: int = 4) -> None:
        self.url = f"{base_url}/api/v1/forms/fault-form/submissions"
        self.acknowledged: list[str] = []
        self.failures = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._post_loop, args=(n,)) for n in range(threads)]

    def _post_loop(self, worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                email = f"fault-{worker}-{i}-{time.monotonic_ns()}@example.com"
                try:
                    response = client.post(self.url, json={"email": email})
                except httpx.HTTPError:
                    with self._lock:
                        self.failures += 1
                    time.sleep(0.01)
                    continue
                with self._lock:
                    if response.status_code == 201:
                        self.acknowledged.append(email)
                    else:
                        self.failures += 1

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _stored_emails(db: Database) -> set[str]:
    with db.transaction() as session:
        leads = {lead.email for lead in session.exec(select(Lead)).all()}
        submitted = {s.lead_id for s in session.exec(select(Submission)).all()}
        assert len(submitted) == len(leads)
        return leads


def _assert_no_personal_data_logged(log: Path) -> None:
    text = log.read_text()
    assert '"request"' in text  # the service did log (JSON lines), so the check means something
    assert "@example.com" not in text
    assert re.search(r"fault-\d+-\d+", text) is None


def _create_form(base_url: str) -> None:
    response = httpx.post(f"{base_url}/api/v1/forms", json=FORM, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 201, response.text


def test_kill_9_of_serve_under_capture_load_loses_no_acknowledged_capture(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    env = service_env(database_url, tmp_path, LEADNURTURE_RUN_SCHEDULER="false")
    service = Service(env=env, log_path=tmp_path / "serve.log")
    service.start()
    _create_form(service.base_url)
    load = CaptureLoad(service.base_url)
    load.start()
    load.wait_for(200)
    service.kill_9()
    load.stop()
    acknowledged = set(load.acknowledged)
    assert len(acknowledged) >= 200
    assert acknowledged <= _stored_emails(db)
    _assert_no_personal_data_logged(tmp_path / "serve.log")


@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None, reason="needs the machine's PostgreSQL cluster tools")
def test_postgres_restart_under_load_recovers_and_loses_nothing(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    env = service_env(database_url, tmp_path, LEADNURTURE_RUN_SCHEDULER="false")
    with running_service(env, tmp_path / "serve.log") as service:
        _create_form(service.base_url)
        load = CaptureLoad(service.base_url, threads=2)
        load.start()
        load.wait_for(50)
        version = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True).stdout.split()[0]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "stop", "-m", "fast"],
            check=True,
        )
        try:
            not_ready = httpx.get(f"{service.base_url}/readyz", timeout=5).status_code
        finally:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True)
        assert not_ready == 503
        before = len(load.acknowledged)
        service.wait_until_ready()
        load.wait_for(before + 50)
        load.stop()
        assert len(load.acknowledged) >= before + 50, "captures did not resume after PostgreSQL came back"
    assert set(load.acknowledged) <= _stored_emails(db)
    _assert_no_personal_data_logged(tmp_path / "serve.log")


def test_kill_9_of_a_worker_between_claim_and_delivery_loses_no_webhook(
    client: TestClient,
    anon: TestClient,
    db: Database,
    database_url: str,
    settings: Settings,
    tmp_path: Path,
) -> None:
    receiver = Receiver(free_port()).start()
    receiver.default = Reply(200, delay=30)  # the worker's POST hangs: it has claimed, not recorded
    try:
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["lead.mql"]}).json()
        receiver.secrets.append(hook["secret"])
        make_form(client, slug="demo", name="Demo", kind="demo_request", offer=None)
        submit(anon, "demo", email="ceo@acme-corp.com", job_title="CEO")
        env = service_env(database_url, tmp_path, LEADNURTURE_TICK_SECONDS="0.2")
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.kill()
        worker.wait(timeout=10)
        assert len(receiver.received) == 1
        with db.transaction() as session:
            delivery = session.exec(select(WebhookDelivery)).one()
            assert delivery.status == "pending"  # claimed under a lease, never recorded
        receiver.default = Reply(200)
        with db.transaction() as session:  # time passes: the dead worker's lease runs out
            leased = session.exec(select(WebhookDelivery)).one()
            assert leased.next_attempt_at is not None
            assert leased.next_attempt_at > utcnow() + timedelta(seconds=60)
            leased.next_attempt_at = utcnow() - timedelta(seconds=1)
            session.add(leased)
        deliver_due(db, settings)
        with db.transaction() as session:
            assert session.exec(select(WebhookDelivery)).one().status == "delivered"
        assert {r.webhook_id for r in receiver.received} == {receiver.received[0].webhook_id}
        assert all(r.verified_with for r in receiver.received)
    finally:
        receiver.stop()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_flood_of_public_endpoints_leaves_the_admin_api_answering(
    db: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = service_env(
        database_url, tmp_path, LEADNURTURE_RUN_SCHEDULER="false", LEADNURTURE_PUBLIC_RATE_LIMIT_PER_MINUTE="600"
    )
    with running_service(env, tmp_path / "serve.log") as service:
        _create_form(service.base_url)
        script = tmp_path / "flood.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.body = \'{"email": "flood@example.com"}\'\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        flood = subprocess.Popen(
            [
                "wrk",
                "-t1",
                "-c32",
                "-d4s",
                "-s",
                str(script),
                f"{service.base_url}/api/v1/forms/fault-form/submissions",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        statuses, latencies = [], []
        with httpx.Client(headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10) as admin:
            time.sleep(0.5)
            while flood.poll() is None:
                started = time.perf_counter()
                statuses.append(admin.get(f"{service.base_url}/api/v1/leads?limit=5").status_code)
                latencies.append((time.perf_counter() - started) * 1000)
        output = flood.communicate()[0]
    assert statuses
    assert set(statuses) == {200}  # the flood is throttled per IP; the admin API keeps answering
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    median = sorted(latencies)[len(latencies) // 2]
    with capsys.disabled():
        print(  # noqa: T201  (the measured figures belong in the run's output)
            f"\n[flood: {rate.group(1) if rate else '?'} req/s at the capture endpoint (mostly 429); "
            f"admin API answered {len(statuses)} calls, median {median:.1f} ms]"
        )

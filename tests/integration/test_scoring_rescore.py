"""After a model change: re-score every lead (API job with progress, and the CLI), and the
daily set-based decay re-base."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.models import Event, Lead, RescoreJob
from app.scoring import jobs
from app.scoring.jobs import rebase_engagement, rescore_job, run_rescore
from app.settings import Settings
from app.types import utcnow
from tests.factories import make_form, submit
from tests.integration.processes import service_env
from tests.integration.scoring_data import ANA, lead_by_email, post_event

PRICING = {"url": "https://www.example.com/pricing"}


def _model_with(client: TestClient, rule_id: str, points: float) -> None:
    model = client.get("/api/v1/scoring/model").json()["model"]
    for rule in model["engagement_rules"]:
        if rule["id"] == rule_id:
            rule["points"], rule["cap_per_day"] = points, None
    assert client.put("/api/v1/scoring/model", json=model).status_code == 200


def test_rescore_applies_a_new_model_to_every_lead_with_progress(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_form(client)
    for i in range(5):
        submit(anon, email=f"r{i}@gmail.com", job_title="Student")
    model = client.get("/api/v1/scoring/model").json()["model"]
    model["fit_rules"] = [r for r in model["fit_rules"] if r["id"] not in ("student", "free_mail")]
    client.put("/api/v1/scoring/model", json=model)
    job = client.post("/api/v1/scoring/rescore")
    assert job.status_code == 202
    assert (job.json()["state"], job.json()["total"]) == ("queued", 5)
    rescore_job(db, settings)  # the scheduler's tick claims the queued job
    progress = client.get(f"/api/v1/scoring/rescore/{job.json()['job_id']}").json()
    assert (progress["state"], progress["done"], progress["total"]) == ("done", 5, 5)
    assert {lead["fit_score"] for lead in client.get("/api/v1/leads").json()["data"]} == {0}


def test_a_rescore_whose_worker_died_resumes_where_it_stopped_once_its_lease_expires(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_form(client)
    for i in range(5):
        submit(anon, email=f"r{i}@gmail.com", job_title="Student")
    model = client.get("/api/v1/scoring/model").json()["model"]
    model["fit_rules"] = [r for r in model["fit_rules"] if r["id"] not in ("student", "free_mail")]
    client.put("/api/v1/scoring/model", json=model)
    job_id = uuid.UUID(client.post("/api/v1/scoring/rescore").json()["job_id"])
    monkeypatch.setattr(jobs, "RESCORE_BATCH", 2)
    assert jobs._claim_rescore(db, utcnow()) == job_id
    with db.transaction() as session:
        jobs._rescore_step(session, settings, job_id)  # one batch committed, then the worker dies
    rescore_job(db, settings)  # the lease is still fresh: nobody steals the job
    assert client.get(f"/api/v1/scoring/rescore/{job_id}").json()["done"] == 2
    with db.transaction() as session:
        job = session.get(RescoreJob, job_id)
        assert job is not None
        job.heartbeat_at = utcnow() - timedelta(minutes=10)
        session.add(job)
    rescore_job(db, settings)
    progress = client.get(f"/api/v1/scoring/rescore/{job_id}").json()
    assert (progress["state"], progress["done"], progress["total"]) == ("done", 5, 5)
    assert {lead["fit_score"] for lead in client.get("/api/v1/leads").json()["data"]} == {0}


def test_unknown_rescore_job_is_404(client: TestClient) -> None:
    assert client.get(f"/api/v1/scoring/rescore/{uuid.uuid4()}").status_code == 404


def test_rescore_rewrites_event_points_so_the_explanation_follows_the_new_model(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_form(client)
    lead_id = submit(anon, **ANA)["lead_id"]
    post_event(client, email=ANA["email"], type="page_viewed", properties=PRICING)
    _model_with(client, "pricing_page", 40)
    run_rescore(db, settings, uuid.UUID(client.post("/api/v1/scoring/rescore").json()["job_id"]))
    explanation = client.get(f"/api/v1/leads/{lead_id}/score").json()
    rules = {r["rule"]: r["points_earned"] for r in explanation["engagement"]["rules"]}
    assert rules == {"ebook_form": 10, "pricing_page": 40, "page_view": 1}
    assert explanation["engagement"]["score"] == pytest.approx(51, abs=0.05)
    assert explanation["model_version"] == 2
    with db.transaction() as session:
        pricing = session.exec(select(Event).where(Event.type == "page_viewed")).one()
        assert pricing.engagement_delta == 41


def test_rescore_crosses_the_mql_rule_once(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_form(client)
    submit(anon, **ANA)
    post_event(client, email=ANA["email"], type="page_viewed", properties=PRICING)
    assert not lead_by_email(client)["is_mql"]
    _model_with(client, "pricing_page", 40)
    for _ in range(2):
        run_rescore(db, settings, uuid.UUID(client.post("/api/v1/scoring/rescore").json()["job_id"]))
    assert lead_by_email(client)["lifecycle_stage"] == "mql"
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(Event.type == "became_mql")).all()) == 1


def test_rescore_command_shows_a_progress_bar(
    client: TestClient, anon: TestClient, database_url: str, tmp_path: Path
) -> None:
    make_form(client)
    for i in range(3):
        submit(anon, email=f"cli{i}@example.com")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "rescore"],
        env=service_env(database_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "re-scoring [" in done.stderr
    assert "3/3" in done.stderr
    assert "re-scored 3 leads" in done.stdout


def test_daily_rebase_is_one_statement_and_keeps_reads_exact(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    submit(anon, **ANA)
    before = lead_by_email(client)["engagement_score"]
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        lead.engagement_as_of = lead.engagement_as_of - timedelta(days=30)
        session.add(lead)
    now = utcnow()
    with db.transaction() as session:
        assert rebase_engagement(session, now) == 1
    with db.transaction() as session:
        assert rebase_engagement(session, now) == 0  # re-basing to the same instant again changes nothing
    assert lead_by_email(client)["engagement_score"] == pytest.approx(before / 2, rel=1e-3)


def test_lead_api_shows_engagement_decayed_at_read_time_between_rebases(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    lead_id = submit(anon, **ANA)["lead_id"]
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        lead.engagement_as_of = lead.engagement_as_of - timedelta(days=60)  # two half-lives, not re-based
        session.add(lead)
    assert client.get(f"/api/v1/leads/{lead_id}").json()["engagement_score"] == pytest.approx(10 / 4, rel=1e-3)
    assert lead_by_email(client)["engagement_score"] == pytest.approx(10 / 4, rel=1e-3)
    assert client.get(f"/api/v1/leads/{lead_id}/score").json()["engagement"]["score"] == pytest.approx(2.5, abs=0.01)

"""Nurture sequences end to end: a real SMTP server, a controllable clock, real HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.models import Enrollment, Lead, Message, Suppression
from app.nurture.compose import unsubscribe_url
from app.nurture.dispatcher import dispatch
from app.nurture.transports import OutboxTransport, SmtpConfig, SmtpTransport
from app.privacy.service import email_hash
from app.settings import Settings
from app.types import utcnow
from tests.conftest import ADMIN_KEY
from tests.factories import make_form, submit
from tests.integration.processes import free_port
from tests.integration.smtp import SmtpServer, parts

ANA = {
    "email": "ana.lima@acme-corp.com",
    "first_name": "Ana",
    "company": "Acme",
    "job_title": "Analyst",
}
PLAYBOOK = {
    "name": "Playbook nurture",
    "trigger": {"type": "form_submitted", "form": "funnel-ebook"},
    "exit_when": ["became_mql"],
    "send_window": None,
    "steps": [
        {
            "type": "email",
            "subject": "Your playbook, {{ lead.first_name }}",
            "html": '<p>Hi {{ lead.first_name }}, <a href="https://www.example.com/guide">read the guide</a>.</p>',
            "text": "Hi {{ lead.first_name }}, read the guide: https://www.example.com/guide",
        },
        {"type": "wait", "duration": "PT2S"},
        {
            "type": "email",
            "subject": "Case study for {{ lead.company }}",
            "html": "<p>Case study</p>",
            "text": "...",
        },
        {"type": "branch", "if": {"clicked_step": 0}, "then": 5, "else": 4},
        {
            "type": "email",
            "subject": "Did you get a chance to read it?",
            "html": "<p>Nudge</p>",
            "text": "...",
        },
        {"type": "exit"},
    ],
}


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def nurture_settings(settings: Settings) -> Settings:
    # Limits relaxed so a sequence can run in seconds; the limits have their own tests.
    return settings.model_copy(update={"max_marketing_emails_per_day": 100, "max_marketing_emails_per_week": 100})


def _sequence(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    created = client.post("/api/v1/sequences", json=body or PLAYBOOK)
    assert created.status_code == 201, created.text
    activated = client.post(f"/api/v1/sequences/{created.json()['id']}/activate")
    assert activated.json()["status"] == "active"
    result: dict[str, Any] = activated.json()
    return result


def _run(db: Database, settings: Settings, smtp: SmtpServer, clock: Clock) -> int:
    return dispatch(db, settings, clock=clock, transport=SmtpTransport(SmtpConfig.from_url(smtp.url)))


def _unsubscribe_path(smtp: SmtpServer) -> str:
    return urlsplit(smtp.sink.messages[0]["List-Unsubscribe"].split(",")[0].strip("<> ")).path


def _enrollment(db: Database) -> Enrollment:
    with db.transaction() as session:
        return session.exec(select(Enrollment)).one()


def test_three_touch_sequence_delivers_in_order_with_headers_links_and_personalisation(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    _sequence(client)
    submit(anon, **ANA)
    clock = Clock()
    assert _run(db, nurture_settings, smtp, clock) == 1
    clock.advance(seconds=1)
    assert _run(db, nurture_settings, smtp, clock) == 0  # still waiting
    clock.advance(seconds=2)
    assert _run(db, nurture_settings, smtp, clock) == 1  # the case study
    clock.advance(seconds=1)
    assert _run(db, nurture_settings, smtp, clock) == 1  # no click on the first: the nudge
    clock.advance(minutes=5)
    assert _run(db, nurture_settings, smtp, clock) == 0
    mails = smtp.sink.to(ANA["email"].lower())
    assert [m["Subject"] for m in mails] == [
        "Your playbook, Ana",
        "Case study for Acme",
        "Did you get a chance to read it?",
    ]
    first = mails[0]
    assert first["Message-ID"]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.match(
        r"<http://testserver/u/[^>]+>, <mailto:unsubscribe@testserver\?subject=",
        first["List-Unsubscribe"],
    )
    assert "Playbook nurture" in first["List-Id"]
    body = parts(first)
    assert "Hi Ana" in body["html"]
    assert "http://testserver/t/c/" in body["html"]
    assert "https://www.example.com/guide" not in body["html"]  # every link is tracked
    assert "/t/o/" in body["html"]
    assert nurture_settings.postal_address in body["text"]
    assert "Unsubscribe: http://testserver/u/" in body["text"]
    assert _enrollment(db).status == "completed"


def test_click_takes_the_branch_and_redirects_only_to_the_signed_url(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    _sequence(client)
    submit(anon, **ANA)
    clock = Clock()
    _run(db, nurture_settings, smtp, clock)
    link = re.search(r'href="http://testserver(/t/c/[^"]+)"', parts(smtp.sink.messages[0])["html"])
    assert link
    response = anon.get(link.group(1))
    assert response.status_code == 302
    assert response.headers["location"] == "https://www.example.com/guide"
    assert anon.get(link.group(1)[:-3] + "abc").status_code == 404  # tampered
    for _ in range(3):
        clock.advance(seconds=3)
        _run(db, nurture_settings, smtp, clock)
    assert [m["Subject"] for m in smtp.sink.messages][-1] == "Case study for Acme"  # no nudge after a click
    lead_id = client.get("/api/v1/leads").json()["data"][0]["id"]
    types = [e["type"] for e in client.get(f"/api/v1/leads/{lead_id}/timeline").json()]
    assert types.count("email_clicked") == 1
    assert types.count("email_sent") == 2


def test_open_pixel_counts_one_unique_open(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    sequence = _sequence(client)
    submit(anon, **ANA)
    _run(db, nurture_settings, smtp, Clock())
    pixel = re.search(r'src="http://testserver(/t/o/[^"]+)"', parts(smtp.sink.messages[0])["html"])
    assert pixel
    for _ in range(3):
        got = anon.get(pixel.group(1))
        assert got.headers["content-type"] == "image/gif"
    assert anon.get("/t/o/forged").status_code == 200  # same answer, records nothing
    stats = client.get(f"/api/v1/sequences/{sequence['id']}/stats").json()
    assert (stats["sent"], stats["unique_opens"], stats["open_rate"]) == (1, 1, 1.0)


def test_lead_that_becomes_mql_mid_sequence_gets_nothing_more(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    make_form(client, slug="demo", name="Demo", kind="demo_request", offer=None)
    _sequence(client)
    submit(anon, **ANA)
    clock = Clock()
    _run(db, nurture_settings, smtp, clock)
    submit(anon, "demo", email=ANA["email"], job_title="VP Marketing")
    assert client.get("/api/v1/leads").json()["data"][0]["is_mql"]
    clock.advance(seconds=3)
    assert _run(db, nurture_settings, smtp, clock) == 0
    enrollment = _enrollment(db)
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "became_mql")


def test_one_click_unsubscribe_stops_everything_at_once(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    _sequence(client)
    submit(anon, **ANA)
    clock = Clock()
    _run(db, nurture_settings, smtp, clock)
    path = _unsubscribe_path(smtp)
    assert "Unsubscribe" in anon.get(path).text  # GET only asks: link scanners unsubscribe nobody
    assert client.get("/api/v1/leads").json()["data"][0]["consent"] == "subscribed"
    response = anon.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert client.get("/api/v1/leads").json()["data"][0]["consent"] == "unsubscribed"
    clock.advance(seconds=3)
    assert _run(db, nurture_settings, smtp, clock) == 0
    assert (_enrollment(db).status, _enrollment(db).exit_reason) == ("exited", "unsubscribed")
    assert anon.post(path).status_code == 200  # idempotent, still works later


def test_unsubscribed_person_can_resubscribe_from_the_same_page(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)
    _sequence(client)
    submit(anon, **ANA)
    _run(db, nurture_settings, smtp, Clock())
    path = _unsubscribe_path(smtp)
    assert 'action="/u/' in anon.post(path, data={"List-Unsubscribe": "One-Click"}).text
    page = anon.get(path).text
    assert "Subscribe me again" in page
    assert anon.post(f"{path}/resubscribe").status_code == 200
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        assert lead.consent == "subscribed"
        assert session.get(Suppression, email_hash(lead.email)) is None
    timeline = client.get(f"/api/v1/leads/{lead.id}/timeline").json()
    assert {"unsubscribed", "resubscribed"} <= {event["type"] for event in timeline}


def test_a_bounced_address_cannot_be_resubscribed_by_link(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)
    _sequence(client)
    smtp.sink.reject.add(ANA["email"].lower())
    submit(anon, **ANA)
    _run(db, nurture_settings, smtp, Clock())
    with db.transaction() as session:
        message = session.exec(select(Message).where(Message.kind == "marketing")).one()
        lead_id = session.exec(select(Lead.id)).one()
    path = urlsplit(unsubscribe_url(nurture_settings, lead_id, message.id)).path
    assert anon.post(f"{path}/resubscribe").status_code == 409
    assert client.get(f"/api/v1/leads/{lead_id}").json()["consent"] == "bounced"


def test_hard_bounce_suppresses_the_address(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    _sequence(client)
    smtp.sink.reject.add(ANA["email"].lower())
    submit(anon, **ANA)
    _run(db, nurture_settings, smtp, Clock())
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        assert lead.consent == "bounced"
        assert session.get(Suppression, email_hash(lead.email)) is not None
        statuses = {m.status for m in session.exec(select(Message)).all() if m.kind == "marketing"}
    assert statuses == {"bounced"}
    assert _enrollment(db).status == "exited"


def test_send_window_defers_to_the_window_in_the_leads_time_zone(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    window = {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "timezone": "UTC",
    }
    _sequence(client, PLAYBOOK | {"send_window": window})
    lead_id = submit(anon, **ANA)["lead_id"]
    client.patch(f"/api/v1/leads/{lead_id}", json={"timezone": "Asia/Tokyo"})
    saturday_noon = Clock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # Saturday 21:00 in Tokyo
    assert _run(db, nurture_settings, smtp, saturday_noon) == 0
    assert _enrollment(db).next_run_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 09:00 Tokyo
    monday = Clock(datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC))
    assert _run(db, nurture_settings, smtp, monday) == 1


def test_communication_limit_defers_a_second_email_the_same_day(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    _sequence(client)
    _sequence(client, PLAYBOOK | {"name": "Second sequence"})
    submit(anon, **ANA)
    clock = Clock()
    assert _run(db, settings, smtp, clock) == 1  # default: 1 marketing email per lead per day
    clock.advance(hours=25)
    assert _run(db, settings, smtp, clock) == 1  # deferred, not dropped


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lead.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
        "{{ config.items() }}",
        "{{ request.application.__globals__ }}",
        "{{ lead.custom.update({'a': 1}) }}",
    ],
)
def test_template_escapes_are_refused_at_save_time(client: TestClient, payload: str) -> None:
    steps = [{"type": "email", "subject": "Hi", "html": f"<p>{payload}</p>", "text": "x"}]
    response = client.post("/api/v1/sequences", json=PLAYBOOK | {"steps": steps})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "steps", 0]


def test_template_syntax_errors_name_step_part_and_line(client: TestClient) -> None:
    steps = [{"type": "email", "subject": "Hi", "html": "<p>ok</p>\n<p>{% if %}</p>", "text": "x"}]
    response = client.post("/api/v1/sequences", json=PLAYBOOK | {"steps": steps})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "steps", 0, "html"]
    assert "line 2" in detail["msg"]


def test_sequence_validation(client: TestClient) -> None:
    bad_wait = PLAYBOOK | {"steps": [{"type": "wait", "duration": "3 days"}, PLAYBOOK["steps"][0]]}
    assert client.post("/api/v1/sequences", json=bad_wait).status_code == 422
    bad_branch = PLAYBOOK | {
        "steps": [
            PLAYBOOK["steps"][0],
            {"type": "branch", "if": {"clicked_step": 0}, "then": 9, "else": 0},
        ]
    }
    assert client.post("/api/v1/sequences", json=bad_branch).status_code == 422
    bad_window = PLAYBOOK | {"send_window": {"timezone": "Mars/Base"}}
    assert client.post("/api/v1/sequences", json=bad_window).status_code == 422


def test_editing_steps_makes_a_new_version_and_running_leads_keep_theirs(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    sequence = _sequence(client)
    submit(anon, **ANA)
    new_steps = [{"type": "email", "subject": "Brand new", "html": "<p>new</p>", "text": "new"}]
    updated = client.patch(f"/api/v1/sequences/{sequence['id']}", json={"steps": new_steps}).json()
    assert updated["version"] == 2
    clock = Clock()
    _run(db, nurture_settings, smtp, clock)
    assert smtp.sink.messages[0]["Subject"] == "Your playbook, Ana"  # version 1 continues


def test_preview_renders_for_a_lead_and_test_send_goes_out(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    sequence = _sequence(client)
    lead_id = submit(anon, **ANA)["lead_id"]
    preview = client.post(f"/api/v1/sequences/{sequence['id']}/steps/0/preview", json={"lead_id": lead_id}).json()
    assert preview["subject"] == "Your playbook, Ana"
    assert client.post(f"/api/v1/sequences/{sequence['id']}/steps/1/preview", json={}).status_code == 404
    sent = client.post(f"/api/v1/sequences/{sequence['id']}/steps/0/test-send", json={"to": "qa@example.com"})
    assert sent.status_code == 202
    _run(db, nurture_settings, smtp, Clock())
    assert smtp.sink.to("qa@example.com")[0]["Subject"].startswith("[TEST]")


def test_manual_enrollment_by_filter_respects_reentry(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    sequence = _sequence(client, PLAYBOOK | {"trigger": {"type": "manual"}})
    submit(anon, **ANA)
    submit(anon, email="bo@acme-corp.com")
    first = client.post(f"/api/v1/sequences/{sequence['id']}/enrollments", json={"filter": {"funnel_stage": "tofu"}})
    assert first.json() == {"enrolled": 2, "considered": 2}
    again = client.post(f"/api/v1/sequences/{sequence['id']}/enrollments", json={"filter": {"funnel_stage": "tofu"}})
    assert again.json()["enrolled"] == 0
    bad = client.post(f"/api/v1/sequences/{sequence['id']}/enrollments", json={"filter": {"colour": "red"}})
    assert bad.status_code == 422


def test_transactional_ebook_email_goes_to_the_outbox_folder(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_form(client)
    submit(anon, **ANA)
    sent = dispatch(db, settings, transport=OutboxTransport(settings.outbox_dir))
    assert sent == 1
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    assert "Your copy of The Funnel Playbook" in eml.read_text()


def test_smtp_down_then_back_sends_everything_once(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings
) -> None:
    port = free_port()
    make_form(client)
    _sequence(client)
    for i in range(5):
        submit(anon, **ANA | {"email": f"lead{i}@acme-corp.com"})
    clock = Clock()
    transport = SmtpTransport(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}"))
    assert dispatch(db, nurture_settings, clock=clock, transport=transport) == 10  # attempted, refused
    with db.transaction() as session:
        assert {m.status for m in session.exec(select(Message)).all()} == {"queued"}
    server = SmtpServer(port).start()
    try:
        for _ in range(6):
            clock.advance(minutes=2)
            dispatch(db, nurture_settings, clock=clock, transport=transport)
    finally:
        server.stop()
    subjects = [(m["To"], m["Subject"]) for m in server.sink.messages]
    # 5 ebook deliveries + 3 sequence emails each (the wait passed meanwhile): none lost, none doubled
    assert len(subjects) == len(set(subjects)) == 20


def test_email_events_api_suppresses_hard_bounces_and_complaints(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    submit(anon, **ANA)
    submit(anon, email="angry@acme-corp.com")
    assert client.post("/api/v1/email-events", json={"type": "bounce", "email": "ANA.LIMA@acme-corp.com"}).json() == {
        "handled": 1
    }
    complaint = {
        "notificationType": "Complaint",
        "mail": {"messageId": "x"},
        "complaint": {"complainedRecipients": [{"emailAddress": "angry@acme-corp.com"}]},
    }
    sns = json.dumps({"Type": "Notification", "Message": json.dumps(complaint)})
    answer = client.post("/api/v1/email-events/ses", content=sns, headers={"Content-Type": "text/plain"})
    assert answer.json() == {"handled": 1}
    consents = {lead["email"]: lead["consent"] for lead in client.get("/api/v1/leads").json()["data"]}
    assert consents == {"ana.lima@acme-corp.com": "bounced", "angry@acme-corp.com": "complained"}
    assert client.post("/api/v1/email-events", json={"type": "bounce", "email": "nope"}).status_code == 422


def _ses_bounce(email: str) -> str:
    bounce = {
        "notificationType": "Bounce",
        "mail": {"messageId": "x"},
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": email}]},
    }
    return json.dumps({"Type": "Notification", "Message": json.dumps(bounce)})


def test_sns_authenticates_with_the_key_in_its_subscription_url(client: TestClient, anon: TestClient) -> None:
    make_form(client, offer=None)
    submit(anon, **ANA)
    path = "/api/v1/email-events/ses"
    assert anon.post(path, content=_ses_bounce(ANA["email"]), auth=("sns", "wrong-key")).status_code == 401
    assert anon.post(path, content=_ses_bounce(ANA["email"])).status_code == 401
    answer = anon.post(path, content=_ses_bounce(ANA["email"]), auth=("sns", ADMIN_KEY))
    assert answer.json() == {"handled": 1}
    assert client.get("/api/v1/leads").json()["data"][0]["consent"] == "bounced"


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "http://127.0.0.1:9/confirm",
        "https://sns.eu-west-1.amazonaws.com.evil.example/confirm",
        "http://sns.eu-west-1.amazonaws.com/confirm",
        "https://sns.eu-west-1.amazonaws.com:8443/confirm",
    ],
)
def test_sns_subscription_confirmation_visits_only_sns_itself(client: TestClient, subscribe_url: str) -> None:
    confirmation = json.dumps({"Type": "SubscriptionConfirmation", "SubscribeURL": subscribe_url})
    answer = client.post("/api/v1/email-events/ses", content=confirmation)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "SubscribeURL"]


def test_throttle_per_sequence_defers_the_rest_to_the_next_minute(
    client: TestClient, anon: TestClient, db: Database, nurture_settings: Settings, smtp: SmtpServer
) -> None:
    make_form(client, offer=None)  # no delivery email: only the sequence's mail
    _sequence(client, PLAYBOOK | {"throttle_per_minute": 3})
    for i in range(5):
        submit(anon, **ANA | {"email": f"t{i}@acme-corp.com"})
    clock = Clock()
    assert _run(db, nurture_settings, smtp, clock) == 3
    clock.advance(seconds=61)
    assert _run(db, nurture_settings, smtp, clock) == 2  # the two held back by the throttle

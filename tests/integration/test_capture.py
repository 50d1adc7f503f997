"""The capture endpoint: content types, validation, dedupe, attribution, spam, idempotency,
CORS, downloads and double opt-in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.models import ConsentRecord, Event, Lead, Message, Submission
from tests.factories import make_form, submit

CAPTURE = "/api/v1/forms/funnel-ebook/submissions"
REFERENCE = {
    "email": "Ana.Lima@Acme-Corp.com",
    "first_name": "Ana",
    "company": "Acme",
    "job_title": "VP Marketing",
    "utm_source": "linkedin",
    "utm_campaign": "q4-playbook",
}


def _leads(db: Database) -> list[Lead]:
    with db.transaction() as session:
        return list(session.exec(select(Lead)).all())


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return len(session.exec(select(model)).all())


def test_json_capture_answers_201_with_ids_and_stores_lead_submission_and_event(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    response = anon.post(CAPTURE, json=REFERENCE)
    assert response.status_code == 201
    body = response.json()
    [lead] = _leads(db)
    assert body["lead_id"] == str(lead.id)
    assert lead.email == "ana.lima@acme-corp.com"
    assert lead.job_title == "VP Marketing"
    assert lead.consent == "subscribed"
    with db.transaction() as session:
        submission = session.exec(select(Submission)).one()
        assert str(submission.id) == body["submission_id"]
        event = session.exec(select(Event).where(Event.type == "form_submitted")).one()
        assert event.properties["form_slug"] == "funnel-ebook"
        assert event.properties["form_kind"] == "ebook"


def test_urlencoded_post_redirects_303_to_thanks_page_with_download_link(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    response = anon.post(CAPTURE, data=REFERENCE)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/forms/funnel-ebook/thanks?download=")
    page = anon.get(location)
    assert page.status_code == 200
    assert 'id="download-link"' in page.text


def test_multipart_post_is_accepted_like_a_form(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    response = anon.post(CAPTURE, data={"email": "multi@example.com"}, files={"ignored": ("a.txt", b"x")})
    assert response.status_code == 303
    assert [lead.email for lead in _leads(db)] == ["multi@example.com"]


def test_redirect_url_of_the_form_is_used(client: TestClient, anon: TestClient) -> None:
    make_form(client, redirect_url="https://www.example.com/thank-you")
    response = anon.post(CAPTURE, data={"email": "a@example.com"})
    assert response.headers["location"] == "https://www.example.com/thank-you"


def test_same_email_any_case_is_one_lead_and_blanks_never_wipe(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    submit(anon, **REFERENCE)
    submit(
        anon,
        email="  ANA.LIMA@acme-corp.COM ",
        first_name="",
        company="",
        job_title="CMO",
        phone="+1 555",
    )
    [lead] = _leads(db)
    assert lead.first_name == "Ana"
    assert lead.company == "Acme"
    assert lead.job_title == "VP Marketing"  # filled fields are not overwritten by a form post
    assert lead.phone == "+1 555"  # empty ones are filled
    assert _count(db, Submission) == 2


def test_first_touch_is_kept_forever_and_last_touch_updated(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    submit(anon, **REFERENCE)
    anon.post(f"{CAPTURE}?utm_source=google&utm_medium=cpc", json={"email": "ana.lima@acme-corp.com"})
    [lead] = _leads(db)
    assert lead.first_utm_source == "linkedin"
    assert lead.first_utm_campaign == "q4-playbook"
    assert lead.last_utm_source == "google"
    assert lead.last_utm_medium == "cpc"


def test_unknown_fields_become_custom_fields(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    submit(anon, email="c@example.com", favourite_colour="teal")
    assert _leads(db)[0].custom == {"favourite_colour": "teal"}


def test_invalid_email_is_422_naming_the_field(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    response = anon.post(CAPTURE, json={"email": "not-an-email"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]
    assert _leads(db) == []


def test_required_fields_are_enforced(client: TestClient, anon: TestClient) -> None:
    make_form(
        client,
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "company", "type": "text", "required": True},
        ],
    )
    response = anon.post(CAPTURE, json={"email": "a@example.com"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "company"]


def test_html_post_with_errors_rerenders_the_form_keeping_input(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    response = anon.post(CAPTURE, data={"email": "broken@", "first_name": "Zoë"})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert 'aria-invalid="true"' in response.text
    assert 'value="Zoë"' in response.text


def test_overlong_values_are_refused(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    response = anon.post(CAPTURE, json={"email": "a@example.com", "company": "x" * 201})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "company"]


def test_body_over_the_cap_is_413(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    response = anon.post(CAPTURE, json={"email": "a@example.com", "blob": "x" * 70_000})
    assert response.status_code == 413


def test_wrong_content_type_is_415(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    response = anon.post(CAPTURE, content=b"email=a@example.com", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_malformed_json_is_422(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    response = anon.post(CAPTURE, content=b"{oops", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert anon.post(CAPTURE, json=["a@example.com"]).status_code == 422


def test_filled_honeypot_gets_a_normal_answer_and_stores_nothing(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    assert anon.post(CAPTURE, json={"email": "bot@example.com", "website_url": "http://spam"}).status_code == 201
    assert anon.post(CAPTURE, data={"email": "bot@example.com", "website_url": "x"}).status_code == 303
    assert _leads(db) == []
    assert _count(db, Submission) == 0


def test_idempotency_key_returns_the_first_answer_and_counts_once(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    headers = {"Idempotency-Key": "retry-123"}
    first = anon.post(CAPTURE, json=REFERENCE, headers=headers)
    second = anon.post(CAPTURE, json=REFERENCE, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert _count(db, Submission) == 1
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(Event.type == "form_submitted")).all()) == 1


def test_cors_preflight_and_answer_for_allowed_origin_only(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    allowed = {"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"}
    preflight = anon.options(CAPTURE, headers=allowed)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
    foreign = anon.options(CAPTURE, headers={"Origin": "https://evil.example.net"})
    assert foreign.status_code == 403
    answer = anon.post(CAPTURE, json={"email": "a@example.com"}, headers={"Origin": "https://www.example.com"})
    assert answer.headers["access-control-allow-origin"] == "https://www.example.com"
    other = anon.post(CAPTURE, json={"email": "b@example.com"}, headers={"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in other.headers


def test_download_link_redirects_to_the_offer_and_records_the_download(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    token = submit(anon, **REFERENCE)["download_token"]
    response = anon.get(f"/d/{token}")
    assert response.status_code == 302
    assert response.headers["location"] == "https://cdn.example.com/playbook.pdf"
    with db.transaction() as session:
        assert session.exec(select(Event).where(Event.type == "content_downloaded")).one()


def test_tampered_download_token_is_refused(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    token = submit(anon, **REFERENCE)["download_token"]
    assert anon.get(f"/d/{token[:-2]}xx").status_code == 404
    assert anon.get("/d/https%3A%2F%2Fevil.example.net").status_code == 404


def test_ebook_delivery_email_is_queued_with_the_link(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    token = submit(anon, **REFERENCE)["download_token"]
    with db.transaction() as session:
        message = session.exec(select(Message)).one()
    assert message.kind == "transactional"
    assert message.to_address == "ana.lima@acme-corp.com"
    assert f"/d/{token}" in (message.text_body or "")


def test_double_opt_in_keeps_consent_pending_until_confirmed(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client, kind="newsletter", offer=None, double_opt_in=True)
    submit(anon, email="doi@example.com")
    [lead] = _leads(db)
    assert lead.consent == "pending"
    with db.transaction() as session:
        confirmation = session.exec(select(Message).where(Message.subject == "Please confirm your subscription")).one()
    link = next(word for word in (confirmation.text_body or "").split() if "/confirm/" in word)
    page = anon.get(link.replace("http://testserver", ""))
    assert page.status_code == 200
    assert "confirmed" in page.text
    [lead] = _leads(db)
    assert lead.consent == "subscribed"
    with db.transaction() as session:
        sources = [r.source for r in session.exec(select(ConsentRecord)).all()]
    assert "double_opt_in" in sources


def test_form_post_never_resubscribes_an_unsubscribed_lead(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    submit(anon, email="gone@example.com")
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        lead.consent = "unsubscribed"
        session.add(lead)
    submit(anon, email="gone@example.com")
    assert _leads(db)[0].consent == "unsubscribed"


def test_erased_address_is_not_resurrected_by_a_new_post(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    lead_id = submit(anon, email="erase-me@example.com")["lead_id"]
    assert client.delete(f"/api/v1/leads/{lead_id}").status_code == 204
    submit(anon, email="erase-me@example.com")
    fresh = [lead for lead in _leads(db) if lead.email == "erase-me@example.com"]
    assert fresh[0].consent == "unsubscribed"


def test_hosted_form_page_is_accessible_and_counts_views(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    page = anon.get("/forms/funnel-ebook?utm_source=newsletter")
    assert page.status_code == 200
    assert '<label for="f-email">' in page.text
    assert 'name="utm_source" value="newsletter"' in page.text
    assert 'name="website_url"' in page.text


def test_confirm_with_a_bad_token_is_404(anon: TestClient) -> None:
    assert anon.get("/confirm/nonsense").status_code == 404


def test_nul_characters_are_dropped_not_a_server_error(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    response = anon.post(CAPTURE, json={"email": "nul@example.com", "company": "Ac\x00me", "x\x00y": "v\x00"})
    assert response.status_code == 201
    [lead] = _leads(db)
    assert lead.company == "Acme"


def test_nul_in_event_properties_is_a_422(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    submit(anon, email="nul@example.com")
    response = client.post(
        "/api/v1/events",
        json={"email": "nul@example.com", "type": "custom", "properties": {"note": "a\x00b"}},
    )
    assert response.status_code in (201, 422)

"""The admin lead API: filters, keyset pagination, PATCH, timeline."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import make_form, submit


def test_list_filters_by_email_search_and_stage(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    submit(anon, email="ana@acme-corp.com", company="Acme")
    submit(anon, email="bo@globex.com", company="Globex")
    assert [lead["email"] for lead in client.get("/api/v1/leads?email=ANA@acme-corp.com").json()["data"]] == [
        "ana@acme-corp.com"
    ]
    assert [lead["company"] for lead in client.get("/api/v1/leads?q=glob").json()["data"]] == ["Globex"]
    assert len(client.get("/api/v1/leads?funnel_stage=tofu").json()["data"]) == 2
    assert client.get("/api/v1/leads?funnel_stage=bofu").json()["data"] == []
    assert client.get("/api/v1/leads?funnel_stage=nowhere").status_code == 422


def test_pagination_walks_every_lead_once(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    for i in range(7):
        submit(anon, email=f"p{i}@example.com")
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/leads", params={"limit": 3} | ({"cursor": cursor} if cursor else {})).json()
        seen += [lead["email"] for lead in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"p{i}@example.com" for i in range(7))
    assert client.get("/api/v1/leads?cursor=garbage").status_code == 422


def test_lead_json_has_the_contract_fields(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    lead_id = submit(anon, email="ana@acme-corp.com", utm_source="linkedin")["lead_id"]
    lead = client.get(f"/api/v1/leads/{lead_id}").json()
    for name in (
        "id",
        "email",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "funnel_stage",
        "lifecycle_stage",
        "fit_score",
        "engagement_score",
        "is_mql",
        "consent",
        "created_at",
    ):
        assert name in lead
    assert lead["first_touch"]["utm_source"] == "linkedin"


def test_patch_edits_fields_and_validates_timezone(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    lead_id = submit(anon, email="ana@acme-corp.com")["lead_id"]
    patched = client.patch(f"/api/v1/leads/{lead_id}", json={"job_title": "CMO", "timezone": "Europe/Lisbon"})
    assert patched.status_code == 200
    assert patched.json()["job_title"] == "CMO"
    bad = client.patch(f"/api/v1/leads/{lead_id}", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert client.patch(f"/api/v1/leads/{lead_id}", json={"email": "x@y.z"}).status_code == 422


def test_timeline_lists_the_leads_events_newest_first(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    token = submit(anon, email="ana@acme-corp.com")["download_token"]
    anon.get(f"/d/{token}")
    lead_id = client.get("/api/v1/leads").json()["data"][0]["id"]
    types = [event["type"] for event in client.get(f"/api/v1/leads/{lead_id}/timeline").json()]
    assert types[0] == "content_downloaded"
    assert "form_submitted" in types


def test_unknown_lead_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/leads/00000000-0000-0000-0000-000000000000").status_code == 404

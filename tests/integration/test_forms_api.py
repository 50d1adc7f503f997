"""Forms as configuration: CRUD and validation of the definition itself."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import EBOOK_FORM, make_form


def test_reference_form_payload_is_created_with_its_slug(client: TestClient) -> None:
    form = make_form(client)
    assert form["slug"] == "funnel-ebook"
    assert form["kind"] == "ebook"
    assert form["hosted_url"].endswith("/forms/funnel-ebook")
    assert 'action="http://testserver/api/v1/forms/funnel-ebook/submissions"' in form["embed_html"]


def test_form_without_email_field_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/forms", json=EBOOK_FORM | {"fields": [{"name": "first_name"}]})
    assert response.status_code == 422
    assert "email" in response.json()["detail"][0]["msg"]


def test_duplicate_slug_is_409(client: TestClient) -> None:
    make_form(client)
    assert client.post("/api/v1/forms", json=EBOOK_FORM).status_code == 409


def test_bad_slug_kind_and_urls_name_the_field(client: TestClient) -> None:
    cases = {
        "slug": {"slug": "Not A Slug"},
        "kind": {"kind": "podcast"},
        "redirect_url": {"redirect_url": "javascript:alert(1)"},
        "allowed_origins": {"allowed_origins": ["https://x.example.com/path"]},
    }
    for field, override in cases.items():
        response = client.post("/api/v1/forms", json=EBOOK_FORM | override)
        assert response.status_code == 422, field
        assert field in response.json()["detail"][0]["loc"], field


def test_unknown_sequence_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/forms", json=EBOOK_FORM | {"sequence_id": "00000000-0000-0000-0000-000000000001"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["sequence_id"]


def test_patch_changes_only_what_is_given_and_validates_the_result(client: TestClient) -> None:
    make_form(client)
    patched = client.patch("/api/v1/forms/funnel-ebook", json={"name": "Playbook v2"})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Playbook v2"
    assert patched.json()["offer"]["title"] == "The Funnel Playbook (PDF)"
    broken = client.patch("/api/v1/forms/funnel-ebook", json={"fields": [{"name": "company"}]})
    assert broken.status_code == 422
    assert client.get("/api/v1/forms/funnel-ebook").json()["name"] == "Playbook v2"


def test_deleted_form_is_gone_from_api_and_public_pages(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    assert client.delete("/api/v1/forms/funnel-ebook").status_code == 204
    assert client.get("/api/v1/forms/funnel-ebook").status_code == 404
    assert client.get("/api/v1/forms").json() == []
    assert anon.get("/forms/funnel-ebook").status_code == 404
    assert anon.post("/api/v1/forms/funnel-ebook/submissions", json={"email": "a@example.com"}).status_code == 404
    make_form(client)  # the slug is free again


def test_unknown_form_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/forms/nope").status_code == 404
    assert client.patch("/api/v1/forms/nope", json={"name": "x"}).status_code == 404

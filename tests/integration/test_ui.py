"""The web UI: login, sessions, CSRF, roles."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.access.users import create_user
from app.db import Database


def _user(db: Database, email: str = "marketer@example.com", role: str = "marketer") -> None:
    with db.transaction() as session:
        create_user(session, email, "correct horse battery", role)


def _login(anon: TestClient, email: str = "marketer@example.com") -> str:
    page = anon.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = anon.post(
        "/ui/login", data={"email": email, "password": "correct horse battery", "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/ui").text)
    assert csrf
    return csrf.group(1)


def test_pages_need_a_login(anon: TestClient) -> None:
    for path in ("/ui", "/ui/leads", "/ui/forms", "/ui/sequences", "/ui/scoring", "/ui/webhooks"):
        response = anon.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login"


def test_session_cookie_is_httponly_and_samesite(anon: TestClient, db: Database) -> None:
    _user(db)
    page = anon.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = anon.post(
        "/ui/login", data={"email": "marketer@example.com", "password": "correct horse battery", "csrf_token": token}
    )
    cookie = answer.headers["set-cookie"]
    assert "ln_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_wrong_password_is_refused(anon: TestClient, db: Database) -> None:
    _user(db)
    token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    answer = anon.post("/ui/login", data={"email": "marketer@example.com", "password": "nope", "csrf_token": token})
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text


def test_login_without_csrf_is_refused(anon: TestClient, db: Database) -> None:
    _user(db)
    answer = anon.post(
        "/ui/login", data={"email": "marketer@example.com", "password": "correct horse battery", "csrf_token": "forged"}
    )
    assert answer.status_code == 403


def test_a_post_without_the_csrf_token_is_refused(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    fields = {"slug": "x", "name": "X", "kind": "contact", "fields": "email:email:required"}
    assert anon.post("/ui/forms", data=fields | {"csrf_token": "wrong"}).status_code == 403
    assert anon.post("/ui/forms", data=fields).status_code == 422  # the field is missing altogether
    assert anon.post("/ui/forms", data=fields | {"csrf_token": csrf}).status_code == 303


def test_viewers_cannot_change_anything(anon: TestClient, db: Database) -> None:
    _user(db, "viewer@example.com", "viewer")
    csrf = _login(anon, "viewer@example.com")
    fields = {"slug": "x", "name": "X", "kind": "contact", "fields": "email:email:required", "csrf_token": csrf}
    assert anon.post("/ui/forms", data=fields).status_code == 403


def test_form_errors_are_shown_inline(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    answer = anon.post(
        "/ui/forms", data={"slug": "x", "name": "X", "kind": "contact", "fields": "first_name", "csrf_token": csrf}
    )
    assert answer.status_code == 422
    assert "email" in answer.text
    assert 'role="alert"' in answer.text


def test_create_user_refuses_weak_passwords_and_duplicates(db: Database) -> None:
    import pytest

    from app.errors import Conflict, InvalidInput

    with pytest.raises(InvalidInput), db.transaction() as session:
        create_user(session, "a@example.com", "short", "marketer")
    _user(db)
    with pytest.raises(Conflict), db.transaction() as session:
        create_user(session, "MARKETER@example.com", "correct horse battery", "marketer")


def _editor_fields(csrf: str, **overrides: str) -> dict[str, str]:
    """The step editor's form for an email, a wait and a second email, as a browser posts it."""
    return {
        "csrf_token": csrf,
        "name": "Welcome",
        "trigger_type": "form_submitted",
        "trigger_form": "",
        "goal": "became_mql",
        "reentry": "never",
        "steps-0-type": "email",
        "steps-0-subject": "Hi {{ lead.first_name }}",
        "steps-0-html": "<p>Hi {{ lead.first_name }}</p>",
        "steps-0-text": "Hi {{ lead.first_name }}",
        "steps-1-type": "wait",
        "steps-1-duration": "3 days",
        "steps-2-type": "email",
        "steps-2-subject": "A case study for {{ lead.company }}",
        "steps-2-html": "<p>Read it</p>",
        "steps-2-text": "Read it",
        "op": "save",
    } | overrides


def test_the_step_editor_saves_what_the_json_api_would(anon: TestClient, client: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    answer = anon.post("/ui/sequences", data=_editor_fields(csrf))
    assert answer.status_code == 303, answer.text
    [saved] = client.get("/api/v1/sequences").json()
    assert saved["name"] == "Welcome"
    assert saved["trigger"] == {"type": "form_submitted", "form": None, "kind": None, "stage": None}
    assert saved["exit_when"] == ["became_mql"]
    assert [s["type"] for s in saved["steps"]] == ["email", "wait", "email"]
    assert saved["steps"][1] == {"type": "wait", "duration": "P3D", "until_send_window": False}
    assert answer.headers["location"] == f"/ui/sequences/{saved['id']}?saved=true"
    assert "Saved (version 1)" in anon.get(answer.headers["location"]).text


def test_a_template_error_is_shown_on_its_step_and_the_draft_kept(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    answer = anon.post("/ui/sequences", data=_editor_fields(csrf, **{"steps-2-html": "<p>{{ lead.first_name </p>"}))
    assert answer.status_code == 422
    assert 'id="sequence-error"' in answer.text
    error = re.search(r'<p class="error" id="steps-2-html-error">([^<]*)</p>', answer.text)
    assert error
    assert "line 1" in error.group(1)
    assert "&lt;p&gt;{{ lead.first_name &lt;/p&gt;</textarea>" in answer.text
    assert '<a href="#steps-2-html">' in answer.text
    assert 'value="A case study for {{ lead.company }}"' in answer.text


def test_branch_conditions_are_checked_by_the_api_validator(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    branch = {
        "steps-3-type": "branch",
        "steps-3-condition": "funnel_stage",
        "steps-3-cond_funnel_stage": "",
        "steps-3-then": "0",
        "steps-3-else": "",
    }
    answer = anon.post("/ui/sequences", data=_editor_fields(csrf, **branch))
    assert answer.status_code == 422
    assert 'id="steps-3-condition-error"' in answer.text
    assert 'id="steps-3-else-error"' in answer.text


def test_editor_buttons_change_the_draft_without_saving(anon: TestClient, client: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    added = anon.post("/ui/sequences", data=_editor_fields(csrf, op="add", new_step_kind="exit"))
    assert added.status_code == 200
    assert "Step 3 · Exit" in added.text
    moved = anon.post("/ui/sequences", data=_editor_fields(csrf, op="up:1"))
    assert re.search(r'id="steps-0-duration"[^>]*value="3 days"', moved.text)
    assert 'id="steps-1-subject" name="steps-1-subject" value="Hi {{ lead.first_name }}"' in moved.text
    removed = anon.post("/ui/sequences", data=_editor_fields(csrf, op="remove:1"))
    assert "steps-2-" not in removed.text
    assert client.get("/api/v1/sequences").json() == []


def test_preview_renders_the_draft_for_a_chosen_lead(anon: TestClient, client: TestClient, db: Database) -> None:
    from tests.factories import make_form, submit

    make_form(client)
    lead_id = submit(client, email="ana.lima@acme-corp.com", first_name="Ana")["lead_id"]
    _user(db)
    csrf = _login(anon)
    answer = anon.post("/ui/sequences", data=_editor_fields(csrf, op="preview:0", preview_lead=lead_id))
    assert answer.status_code == 200
    assert '<span id="steps-0-preview-subject">Hi Ana</span>' in answer.text
    assert "Preview for ana.lima@acme-corp.com" in answer.text


def test_saving_unchanged_steps_keeps_the_version(anon: TestClient, client: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    location = anon.post("/ui/sequences", data=_editor_fields(csrf)).headers["location"]
    sequence_id = location.split("/")[-1].split("?")[0]
    renamed = anon.post(f"/ui/sequences/{sequence_id}", data=_editor_fields(csrf, name="Welcome (renamed)"))
    assert renamed.status_code == 303
    assert client.get(f"/api/v1/sequences/{sequence_id}").json()["version"] == 1
    anon.post(
        f"/ui/sequences/{sequence_id}", data=_editor_fields(csrf, name="Welcome 2", **{"steps-1-duration": "P1W"})
    )
    saved = client.get(f"/api/v1/sequences/{sequence_id}").json()
    assert (saved["name"], saved["version"], saved["steps"][1]["duration"]) == ("Welcome 2", 2, "P1W")


def test_sequence_editor_posts_need_the_csrf_token_and_a_marketer(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    sequence_id = anon.post("/ui/sequences", data=_editor_fields(csrf)).headers["location"].split("/")[-1][:36]
    assert anon.post("/ui/sequences", data=_editor_fields("forged")).status_code == 403
    assert anon.post(f"/ui/sequences/{sequence_id}", data=_editor_fields("forged")).status_code == 403
    assert anon.post("/ui/sequences", data=_editor_fields("forged", op="add")).status_code == 403
    _user(db, "viewer@example.com", "viewer")
    viewer_csrf = _login(anon, "viewer@example.com")
    assert anon.post(f"/ui/sequences/{sequence_id}", data=_editor_fields(viewer_csrf)).status_code == 403


def test_the_json_definition_loads_into_the_editor(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    broken = anon.post("/ui/sequences", data=_editor_fields(csrf, op="json", definition="{not json"))
    assert broken.status_code == 422
    assert "not valid JSON" in broken.text
    assert "{not json</textarea>" in broken.text
    definition = '{"name": "From JSON", "steps": [{"type": "wait", "duration": "PT4H"}, {"type": "exit"}]}'
    loaded = anon.post("/ui/sequences", data={"csrf_token": csrf, "op": "json", "definition": definition})
    assert loaded.status_code == 200
    assert 'value="From JSON"' in loaded.text
    assert "That is 4 hours." in loaded.text
    assert "Step 1 · Exit" in loaded.text


def test_previewing_for_a_lead_that_is_gone_keeps_the_draft(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    gone = "0197aaaa-0000-7000-8000-000000000000"
    answer = anon.post("/ui/sequences", data=_editor_fields(csrf, op="preview:0", preview_lead=gone))
    assert 'id="preview_lead-error"' in answer.text
    assert 'value="A case study for {{ lead.company }}"' in answer.text

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


def test_sequence_json_errors_are_shown_and_the_draft_kept(anon: TestClient, db: Database) -> None:
    _user(db)
    csrf = _login(anon)
    answer = anon.post("/ui/sequences", data={"definition": '{"name": "x", "steps": []}', "csrf_token": csrf})
    assert answer.status_code == 422
    assert 'id="sequence-error"' in answer.text
    assert "&#34;name&#34;: &#34;x&#34;" in answer.text or '"name": "x"' in answer.text
    broken = anon.post("/ui/sequences", data={"definition": "{not json", "csrf_token": csrf})
    assert "not valid JSON" in broken.text

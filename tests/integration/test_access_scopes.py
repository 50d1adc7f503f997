"""Every admin route in the OpenAPI refuses a missing key (401) and a key without scopes (403)."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

# Public by design (SPEC §4): browsers and mail clients call these without a key.
PUBLIC_API_ROUTES = {
    ("POST", "/api/v1/forms/{slug}/submissions"),
    ("OPTIONS", "/api/v1/forms/{slug}/submissions"),
}


def _admin_operations(app: FastAPI) -> list[tuple[str, str]]:
    operations = []
    for path, item in app.openapi()["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method in item:
            if (method.upper(), path) not in PUBLIC_API_ROUTES:
                operations.append((method.upper(), path))
    return operations


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_every_admin_route_refuses_a_missing_key(app: FastAPI, anon: TestClient) -> None:
    operations = _admin_operations(app)
    assert operations, "no admin routes found"
    failures = [
        (method, path, response.status_code)
        for method, path in operations
        if (response := anon.request(method, _concrete(path), json={})).status_code != 401
    ]
    assert failures == []


def test_every_admin_route_refuses_a_key_without_the_scope(app: FastAPI, client: TestClient) -> None:
    key = client.post("/api/v1/api-keys", json={"name": "no scopes", "scopes": []}).json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    failures = [
        (method, path, response.status_code)
        for method, path in _admin_operations(app)
        if (response := client.request(method, _concrete(path), json={}, headers=headers)).status_code != 403
    ]
    assert failures == []


@pytest.mark.parametrize("scope", ["leads:read", "analytics:read"])
def test_read_scopes_cannot_write_api_keys(client: TestClient, scope: str) -> None:
    key = client.post("/api/v1/api-keys", json={"name": scope, "scopes": [scope]}).json()["key"]
    response = client.post("/api/v1/api-keys", json={"name": "escalate"}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403

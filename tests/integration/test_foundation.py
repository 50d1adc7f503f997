"""The ground floor: health, readiness, metrics, authentication, error shape."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_answers_ok(anon: TestClient) -> None:
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_readyz_checks_the_database(anon: TestClient) -> None:
    assert anon.get("/readyz").json() == {"status": "ready"}


def test_request_id_is_echoed(anon: TestClient) -> None:
    response = anon.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_metrics_expose_request_counts_and_latency(anon: TestClient) -> None:
    anon.get("/healthz")
    body = anon.get("/metrics").text
    assert 'leadnurture_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "leadnurture_http_request_duration_seconds_bucket" in body


def test_api_refuses_missing_key_with_401(anon: TestClient) -> None:
    response = anon.get("/api/v1/api-keys")
    assert response.status_code == 401
    assert "missing API key" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_api_refuses_wrong_key_with_401(anon: TestClient) -> None:
    response = anon.get("/api/v1/api-keys", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_created_key_works_and_is_stored_hashed(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from app.models import ApiKey

    created = client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]})
    assert created.status_code == 201
    key = created.json()["key"]
    with db.transaction() as session:
        stored = session.exec(select(ApiKey)).one()
        assert stored.key_hash != key
        assert key not in stored.key_hash
    listed = client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200
    assert "key" not in listed.json()[0]


def test_key_without_scope_gets_403(client: TestClient) -> None:
    key = client.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["leads:read"]}).json()["key"]
    response = client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


def test_revoked_key_gets_401(client: TestClient) -> None:
    created = client.post("/api/v1/api-keys", json={"name": "tmp", "scopes": ["admin"]}).json()
    assert client.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    response = client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {created['key']}"})
    assert response.status_code == 401


def test_unknown_scope_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["root"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["scopes"]


def test_malformed_json_is_a_422_not_a_500(client: TestClient) -> None:
    response = client.post("/api/v1/api-keys", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_readyz_answers_503_once_shutdown_has_begun(settings: object) -> None:
    from app.main import create_app

    app = create_app(settings, run_scheduler=False)  # type: ignore[arg-type]
    with TestClient(app) as running:
        assert running.get("/readyz").status_code == 200
    # The lifespan has ended (SIGTERM): a load balancer must stop sending traffic here.
    draining = TestClient(app).get("/readyz")
    assert draining.status_code == 503
    assert draining.json() == {"status": "draining"}
    app.state.db.dispose()

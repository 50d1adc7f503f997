"""Per-IP rate limit on the public capture endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.factories import make_form


@pytest.fixture
def limited_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"public_rate_limit_per_minute": 3}), run_scheduler=False)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        yield client
    app.state.db.dispose()


def test_flood_from_one_address_gets_429_with_retry_after(limited_client: TestClient, app: object) -> None:
    make_form(limited_client)
    statuses = [
        limited_client.post("/api/v1/forms/funnel-ebook/submissions", json={"email": f"r{i}@example.com"}).status_code
        for i in range(5)
    ]
    assert statuses[:3] == [201, 201, 201]
    assert statuses[3:] == [429, 429]
    blocked = limited_client.post("/api/v1/forms/funnel-ebook/submissions", json={"email": "x@example.com"})
    assert 1 <= int(blocked.headers["retry-after"]) <= 60


def test_every_public_page_and_link_is_rate_limited(limited_client: TestClient, app: object) -> None:
    make_form(limited_client)
    for path in ("/forms/funnel-ebook", "/d/forged", "/t/o/forged", "/u/forged", "/confirm/forged", "/t/snippet.js"):
        statuses = [limited_client.get(path).status_code for _ in range(4)]
        assert statuses[-1] == 429, path

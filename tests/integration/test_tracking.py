"""First-party page tracking: the snippet, the `POST /t/e` beacon and stitching anonymous
page views onto the lead when the visitor converts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.db import Database
from app.main import create_app
from app.models import Event
from app.settings import Settings
from tests.factories import make_form
from tests.integration.live import chromium, live_server, static_site
from tests.integration.scoring_data import ANA, lead_by_email

VISITOR = "visitor-123456"
PRICING_VIEW = {"vid": VISITOR, "url": "https://www.example.com/pricing", "title": "Pricing"}


def _beacon(client: TestClient, view: dict[str, Any]) -> int:
    return client.post("/t/e", content=json.dumps(view), headers={"Content-Type": "text/plain"}).status_code


def test_page_views_before_the_form_are_stitched_and_scored(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    assert _beacon(anon, PRICING_VIEW) == 204
    anon.post("/api/v1/forms/funnel-ebook/submissions", json=ANA | {"_ln_vid": VISITOR})
    lead = lead_by_email(client)
    assert lead["funnel_stage"] == "bofu"  # the pricing view is a BOFU intent signal
    assert lead["engagement_score"] == pytest.approx(10 + 10 + 1, abs=0.01)  # ebook form, pricing page, page view
    timeline = [e["type"] for e in client.get(f"/api/v1/leads/{lead['id']}/timeline").json()]
    assert timeline.count("page_viewed") == 1


def test_a_known_visitor_s_page_view_goes_straight_to_the_lead(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    anon.post("/api/v1/forms/funnel-ebook/submissions", json=ANA | {"_ln_vid": VISITOR})
    assert _beacon(anon, PRICING_VIEW | {"url": "https://www.example.com/blog"}) == 204
    lead = lead_by_email(client)
    assert [e["type"] for e in client.get(f"/api/v1/leads/{lead['id']}/timeline").json()].count("page_viewed") == 1
    assert lead["engagement_score"] == pytest.approx(10 + 1, abs=0.01)
    with db.transaction() as session:
        view = session.exec(select(Event).where(Event.type == "page_viewed")).one()
        assert (str(view.lead_id), view.visitor_id) == (lead["id"], VISITOR)


def test_beacon_allows_any_origin_without_credentials(anon: TestClient) -> None:
    answer = anon.post(
        "/t/e",
        content=json.dumps(PRICING_VIEW),
        headers={"Content-Type": "text/plain", "Origin": "https://www.example.com"},
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers


def test_beacon_refuses_junk_with_the_field_named(anon: TestClient) -> None:
    assert anon.post("/t/e", content=b"nope", headers={"Content-Type": "text/plain"}).status_code == 422
    short_id = anon.post("/t/e", content=b'{"vid":"short","url":"https://x.com"}')
    assert short_id.status_code == 422
    assert "vid" in json.dumps(short_id.json()["detail"])
    assert anon.post("/t/e", content=b'{"vid":"visitor-123456","url":"javascript:alert(1)"}').status_code == 422
    assert anon.post("/t/e", content=b"x" * 5000).status_code == 413


def test_beacon_is_rate_limited_per_address(settings: Settings, db: Database) -> None:
    app = create_app(settings.model_copy(update={"public_rate_limit_per_minute": 3}), run_scheduler=False)
    with TestClient(app) as limited:
        statuses = [_beacon(limited, PRICING_VIEW) for _ in range(5)]
    app.state.db.dispose()
    assert statuses == [204, 204, 204, 429, 429]
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(col(Event.visitor_id) == VISITOR)).all()) == 3


def test_snippet_is_plain_javascript_that_honours_do_not_track_and_consent(anon: TestClient) -> None:
    snippet = anon.get("/t/snippet.js")
    assert snippet.headers["content-type"].startswith("application/javascript")
    assert "doNotTrack" in snippet.text
    assert "lnConsent === false" in snippet.text
    assert "http://testserver/t/e" in snippet.text
    assert len(snippet.content) < 3000


def _landing_page(directory: Path, base: str, name: str, before_snippet: str = "") -> None:
    (directory / name).write_text(f"""<!doctype html><html><head><title>Pricing</title></head><body>
<form method="post" action="{base}/api/v1/forms/funnel-ebook/submissions">
  <input name="email" value="{ANA["email"]}"><input name="job_title" value="VP Marketing">
  <button>Get the playbook</button>
</form>
<script>{before_snippet}</script>
<script src="{base}/t/snippet.js"></script>
</body></html>""")


@pytest.mark.browser
def test_a_browser_visit_then_form_post_stitches_the_page_view(
    app: FastAPI, client: TestClient, db: Database, tmp_path: Path
) -> None:
    with live_server(app) as base, static_site(tmp_path) as site, chromium() as browser:
        make_form(client, allowed_origins=[site])
        _landing_page(tmp_path, base, "pricing.html")
        page: Any = browser.new_page()  # type: ignore[attr-defined]
        with page.expect_response(lambda r: r.url == f"{base}/t/e") as beacon:
            page.goto(f"{site}/pricing.html")
        assert beacon.value.status == 204
        cookie = next(c for c in page.context.cookies() if c["name"] == "ln_vid")
        assert cookie["sameSite"] == "Lax"
        page.get_by_role("button", name="Get the playbook").click()
        page.wait_for_url("**/thanks**")
    with db.transaction() as session:
        views = session.exec(select(Event).where(Event.type == "page_viewed")).all()
        assert [(view.visitor_id, view.properties["url"]) for view in views] == [
            (cookie["value"], f"{site}/pricing.html")
        ]
    lead = lead_by_email(client)
    assert views[0].lead_id is not None
    assert str(views[0].lead_id) == lead["id"]
    assert lead["funnel_stage"] == "bofu"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("init_script", "inline"),
    [
        ("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})", ""),
        ("", "window.lnConsent = false;"),
    ],
    ids=["do-not-track", "no-consent"],
)
def test_the_snippet_tracks_nothing_without_consent_or_with_do_not_track(
    app: FastAPI, db: Database, tmp_path: Path, init_script: str, inline: str
) -> None:
    with live_server(app) as base, static_site(tmp_path) as site, chromium() as browser:
        _landing_page(tmp_path, base, "quiet.html", before_snippet=inline)
        page: Any = browser.new_page()  # type: ignore[attr-defined]
        if init_script:
            page.add_init_script(init_script)
        with page.expect_response(lambda r: r.url.endswith("/t/snippet.js")):
            page.goto(f"{site}/quiet.html")
        page.wait_for_load_state("load")  # the snippet has run: it is a synchronous script
        assert page.evaluate("window.lnVisitorId") is None
        assert not [c for c in page.context.cookies() if c["name"] == "ln_vid"]
    with db.transaction() as session:
        assert session.exec(select(Event).where(Event.type == "page_viewed")).all() == []

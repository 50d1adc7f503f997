"""A real browser fills the hosted form and a customer's page posts cross-origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_form
from tests.integration.live import chromium, live_server, static_site

pytestmark = pytest.mark.browser


def test_visitor_fills_hosted_form_and_gets_the_download_link(app: FastAPI, client: TestClient) -> None:
    make_form(client)
    with live_server(app) as base, chromium() as browser:
        page: Any = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{base}/forms/funnel-ebook?utm_source=newsletter")
        page.get_by_label("Email").fill("Browser.User@Example.com")
        page.get_by_label("First name").fill("Bea")
        page.get_by_role("button", name="Get it now").click()
        page.wait_for_url("**/forms/funnel-ebook/thanks**")
        link = page.locator("#download-link")
        assert link.is_visible()
        assert link.get_attribute("href").startswith("/d/")
    lead = client.get("/api/v1/leads?email=browser.user@example.com").json()["data"][0]
    assert lead["first_name"] == "Bea"
    assert lead["first_touch"]["utm_source"] == "newsletter"


def test_hosted_form_shows_errors_and_keeps_input(app: FastAPI, client: TestClient) -> None:
    make_form(client)
    with live_server(app) as base, chromium() as browser:
        page: Any = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{base}/forms/funnel-ebook")
        page.get_by_label("Email").fill("not-an-email")
        page.get_by_label("Company").fill("Acme")
        page.get_by_role("button", name="Get it now").click()
        assert page.get_by_role("alert").is_visible()
        assert page.get_by_label("Company").input_value() == "Acme"


def test_page_on_another_origin_posts_json_cross_origin(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    with live_server(app) as base, static_site(tmp_path) as site, chromium() as browser:
        make_form(client, allowed_origins=[site])
        (tmp_path / "landing.html").write_text(f"""<!doctype html><html><body>
<form id="f"><input name="email" value="cross@example.com"><button>Go</button></form>
<p id="result"></p>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {{
  e.preventDefault();
  const r = await fetch('{base}/api/v1/forms/funnel-ebook/submissions', {{
    method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{email: 'cross@example.com', utm_source: 'site'}})}});
  document.getElementById('result').textContent = r.status + ':' + (await r.json()).lead_id;
}});
</script></body></html>""")
        page: Any = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{site}/landing.html")
        page.get_by_role("button", name="Go").click()
        page.wait_for_function("document.getElementById('result').textContent.length > 0")
        assert page.locator("#result").text_content().startswith("201:")
    assert client.get("/api/v1/leads?email=cross@example.com").json()["data"]

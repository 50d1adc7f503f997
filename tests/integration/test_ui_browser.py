"""A marketer's first hour, in headless Chromium: log in, create a form, capture a lead through
the hosted page, create a two-step sequence, find the lead on the dashboard and its page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.access.users import create_user
from app.db import Database
from tests.integration.live import chromium, live_server

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parent.parent / "artifacts"


def test_marketer_journey_in_a_real_browser(app: FastAPI, db: Database, database_url: str) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    ARTIFACTS.mkdir(exist_ok=True)
    with db.transaction() as session:
        create_user(session, "mia@example.com", "correct horse battery", "admin")
    with live_server(app) as base, chromium() as browser:
        page: Any = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        page.goto(f"{base}/ui")
        page.get_by_label("Email").fill("mia@example.com")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/ui")

        page.goto(f"{base}/ui/forms")
        page.get_by_label("Name", exact=True).fill("Funnel Playbook")
        page.get_by_label("Slug (in the URL)").fill("playbook")
        page.get_by_label("Kind").select_option("ebook")
        page.get_by_label("Offer title (content downloads)").fill("The Funnel Playbook")
        page.get_by_label("Offer URL").fill("https://cdn.example.com/playbook.pdf")
        page.get_by_role("button", name="Create form").click()
        page.wait_for_url(f"{base}/ui/forms/playbook")
        assert "api/v1/forms/playbook/submissions" in page.locator("#embed").input_value()

        page.goto(f"{base}/ui/sequences")
        definition = {
            "name": "Playbook follow-up",
            "trigger": {"type": "form_submitted", "form": "playbook"},
            "exit_when": ["became_mql"],
            "steps": [
                {"type": "email", "subject": "Your playbook, {{ lead.first_name }}", "html": "<p>Hi</p>", "text": "Hi"},
                {"type": "wait", "duration": "P2D"},
            ],
        }
        page.get_by_label("Definition (JSON)").fill(json.dumps(definition, indent=2))
        page.get_by_role("button", name="Create sequence").click()
        page.get_by_role("button", name="Activate").click()
        assert page.locator("#sequence-status").text_content() == "active"
        page.screenshot(path=str(ARTIFACTS / f"sequence-editor-{backend}.png"), full_page=True)

        visitor = browser.new_page()  # type: ignore[attr-defined]
        visitor.goto(f"{base}/forms/playbook?utm_source=linkedin")
        visitor.get_by_label("Email").fill("ana.lima@acme-corp.com")
        visitor.get_by_label("First name").fill("Ana")
        visitor.get_by_label("Job title").fill("VP Marketing")
        visitor.get_by_role("button", name="Get it now").click()
        visitor.wait_for_url("**/thanks**")

        page.goto(f"{base}/ui")
        funnel_title = page.locator("#funnel svg title").text_content()
        assert "TOFU 1" in funnel_title
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{backend}.png"), full_page=True)

        page.goto(f"{base}/ui/leads")
        page.get_by_role("link", name="ana.lima@acme-corp.com").click()
        timeline = page.locator("#timeline").text_content()
        assert "form_submitted" in timeline
        assert "Playbook follow-up" in page.content()
        page.screenshot(path=str(ARTIFACTS / f"lead-page-{backend}.png"), full_page=True)

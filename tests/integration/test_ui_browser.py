"""A marketer's first hour, in headless Chromium: log in, create a form, capture a lead through
the hosted page, create a two-step sequence, find the lead on the dashboard and its page."""

from __future__ import annotations

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
        page.get_by_role("link", name="New sequence").click()
        page.get_by_label("Name", exact=True).fill("Playbook follow-up")
        page.get_by_label("Enroll a lead when").select_option("form_submitted")
        page.get_by_label("Form", exact=True).select_option("playbook")
        page.get_by_label("became an MQL").check()
        first = page.locator("#steps-0")
        first.get_by_label("Subject").fill("Your playbook, {{ lead.first_name }}")
        first.get_by_label("HTML body").fill("<p>Hi {{ lead.first_name }}</p>")
        first.get_by_label("Text body").fill("Hi {{ lead.first_name }}")
        page.get_by_label("Kind of step to add").select_option("wait")
        page.get_by_role("button", name="Add step").click()
        wait = page.locator("#steps-1")
        wait.get_by_label("Wait for").fill("2 days")
        assert wait.locator(".hint").text_content() == "That is 2 days."
        page.get_by_role("button", name="Create sequence").click()
        page.wait_for_url("**/ui/sequences/*?saved=true")
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


def _log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/ui")
    page.get_by_label("Email").fill("mia@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/ui")


def test_sequence_step_editor_in_a_real_browser(app: FastAPI, db: Database, database_url: str) -> None:
    """Steps are built by clicking; a broken template is pointed out on its step with the draft kept;
    steps move and go; the editor stays usable on a phone."""
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    ARTIFACTS.mkdir(exist_ok=True)
    with db.transaction() as session:
        create_user(session, "mia@example.com", "correct horse battery", "marketer")
    with live_server(app) as base, chromium() as browser:
        page: Any = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        _log_in(page, base)
        page.goto(f"{base}/ui/sequences/new")
        page.get_by_label("Name", exact=True).fill("Webinar nurture")
        page.locator("#steps-0").get_by_label("Subject").fill("Welcome, {{ lead.first_name }}")
        page.locator("#steps-0").get_by_label("HTML body").fill("<p>Hi {{ lead.first_name }}</p>")
        page.locator("#steps-0").get_by_label("Text body").fill("Hi {{ lead.first_name }}")
        for kind in ("email", "wait"):
            page.get_by_label("Kind of step to add").select_option(kind)
            with page.expect_navigation():
                page.get_by_role("button", name="Add step").click()
        # The new step's first input has the focus, so typing goes straight into it.
        assert page.evaluate("document.activeElement.id") == "steps-2-duration"
        assert page.locator("#steps-2-duration-hint").text_content() == "That is 2 days."
        page.keyboard.press("Control+A")
        page.keyboard.type("P3D")
        assert page.locator("#steps-2-duration-hint").text_content() == "That is 3 days."
        second = page.locator("#steps-1")
        second.get_by_label("Subject").fill("Seats are going, {{ lead.first_name }}")
        second.get_by_label("HTML body").fill("<p>Hi {{ lead.first_name </p>")
        second.get_by_label("Text body").fill("Hi")
        with page.expect_navigation():
            page.get_by_role("button", name="Create sequence").click()

        error = page.locator("#steps-1-html-error")
        assert "line 1" in error.text_content()
        assert page.locator("#steps-1-html").get_attribute("aria-invalid") == "true"
        assert page.locator("#steps-1-html").input_value() == "<p>Hi {{ lead.first_name </p>"
        assert page.locator("#steps-1-subject").input_value() == "Seats are going, {{ lead.first_name }}"
        assert page.locator("#steps-2-duration").input_value() == "P3D"
        assert page.get_by_role("alert").is_visible()
        page.screenshot(path=str(ARTIFACTS / f"sequence-step-error-{backend}.png"), full_page=True)

        page.locator("#steps-1-html").fill("<p>Hi {{ lead.first_name }}</p>")
        with page.expect_navigation():
            page.get_by_role("button", name="Move up step 2").click()
        assert page.locator("#steps-1 legend").text_content() == "Step 1 · Wait"
        assert page.locator("#steps-2-html").input_value() == "<p>Hi {{ lead.first_name }}</p>"
        assert page.evaluate("document.activeElement.id") == "steps-1-up"
        with page.expect_navigation():
            page.keyboard.press("Enter")  # keyboard only: the focused button moves it up once more
        assert page.locator("#steps-0 legend").text_content() == "Step 0 · Wait"
        with page.expect_navigation():
            page.get_by_role("button", name="Move down step 0").click()

        with page.expect_navigation():
            page.locator("#steps-0").get_by_role("button", name="Preview step 0").click()
        assert page.locator("#steps-0-preview-subject").text_content() == "Welcome, Ana"
        assert page.frame_locator("#steps-0 iframe").locator("p").text_content() == "Hi Ana"

        with page.expect_navigation():
            page.get_by_role("button", name="Remove step 2").click()
        assert page.locator("#steps-2").count() == 0
        assert page.locator("#steps-1 legend").text_content() == "Step 1 · Wait"

        page.get_by_label("Kind of step to add").select_option("branch")
        with page.expect_navigation():
            page.get_by_role("button", name="Add step").click()
        branch = page.locator("#steps-2")
        assert branch.get_by_label("Funnel stage").is_hidden()  # only the chosen condition's input shows
        branch.get_by_label("Condition").select_option("funnel_stage")
        branch.get_by_label("Funnel stage").select_option("bofu")
        assert branch.get_by_label("Email step").is_hidden()
        branch.get_by_label("If it holds, go to").select_option("1")
        branch.get_by_label("Otherwise, go to").select_option("0")
        page.screenshot(path=str(ARTIFACTS / f"sequence-editor-steps-{backend}.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="Create sequence").click()
        page.wait_for_url("**/ui/sequences/*?saved=true")
        assert page.locator("#steps-2-cond_funnel_stage").input_value() == "bofu"
        assert page.get_by_role("status").text_content() == "Saved (version 1)."

        page.get_by_role("link", name="Sequences").click()
        page.wait_for_url(f"{base}/ui/sequences")
        assert page.locator("#sequences").get_by_role("link", name="Webinar nurture").is_visible()

        phone = browser.new_page(viewport={"width": 375, "height": 800})  # type: ignore[attr-defined]
        _log_in(phone, base)
        phone.goto(f"{base}/ui/sequences/new")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        phone.screenshot(path=str(ARTIFACTS / f"sequence-editor-phone-{backend}.png"), full_page=True)

        # Without JavaScript every input shows and the buttons still work.
        plain = browser.new_context(java_script_enabled=False).new_page()  # type: ignore[attr-defined]
        _log_in(plain, base)
        plain.goto(f"{base}/ui/sequences/new")
        assert plain.get_by_label("Form", exact=True).is_visible()
        plain.get_by_label("Kind of step to add").select_option("branch")
        with plain.expect_navigation():
            plain.get_by_role("button", name="Add step").click()
        assert plain.locator("#steps-1").get_by_label("Funnel stage").is_visible()
        assert plain.locator("#steps-1").get_by_label("Email step").is_visible()

"""What sales receives: the SPEC §9 envelope, the lead's fields, reason codes analytics count."""

from __future__ import annotations

import pytest

from app.handoff.payloads import envelope, lead_links, lead_summary
from app.handoff.sales import REJECTION_REASONS, reason_code
from app.models import Lead
from app.settings import Settings

SPEC_LEAD_FIELDS = {
    "id",
    "email",
    "first_name",
    "company",
    "job_title",
    "funnel_stage",
    "lifecycle_stage",
    "fit_score",
    "engagement_score",
}


def _ana() -> Lead:
    return Lead(
        email="ana.lima@acme-corp.com",
        first_name="Ana",
        company="Acme",
        job_title="VP Marketing",
        funnel_stage="bofu",
        lifecycle_stage="mql",
        fit_score=40,
        engagement_score=55.0,
        first_utm_source="linkedin",
        first_utm_campaign="q4-playbook",
    )


def test_the_envelope_has_type_utc_timestamp_and_data() -> None:
    body = envelope("lead.mql", {"x": 1})
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "lead.mql"
    assert body["timestamp"].endswith("Z")


def test_the_lead_carries_the_spec_fields_and_attribution() -> None:
    lead = _ana()
    summary = lead_summary(lead)
    assert set(summary) >= SPEC_LEAD_FIELDS | {"owner", "mql_episode", "first_touch", "last_touch"}
    assert (summary["email"], summary["funnel_stage"], summary["engagement_score"]) == (
        "ana.lima@acme-corp.com",
        "bofu",
        55.0,
    )
    assert summary["first_touch"]["utm_campaign"] == "q4-playbook"


def test_links_point_to_the_lead_page_and_the_decision_endpoint() -> None:
    lead = _ana()
    links = lead_links(lead, Settings(base_url="https://leads.example.com", secret_key="x"))
    assert links["lead"] == f"https://leads.example.com/ui/leads/{lead.id}"
    assert links["decision"] == f"https://leads.example.com/api/v1/leads/{lead.id}/sales-decision"


@pytest.mark.parametrize("code", REJECTION_REASONS)
def test_a_reason_code_is_kept_as_is(code: str) -> None:
    assert reason_code(code) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("no budget this year", "no_budget"),
        ("Not the decision maker", "no_authority"),
        ("they have no need for it", "no_need"),
        ("ask again later", "bad_timing"),
        ("Bad Data", "bad_data"),
        ("signed with a competitor", "competitor"),
        ("spam", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_free_text_is_mapped_to_a_reason_code(text: str | None, code: str) -> None:
    assert reason_code(text) == code

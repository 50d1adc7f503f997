"""Reading posted values into lead data: normalisation, required fields, caps, custom fields."""

from __future__ import annotations

import pytest

from app.capture.intake import normalise_email, read_submission

FIELDS = [
    {"name": "email", "type": "email", "required": True},
    {"name": "company", "type": "text", "required": True},
    {"name": "size", "type": "select", "choices": ["1-10", "11-50"]},
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ana.Lima@Acme-Corp.COM ", "ana.lima@acme-corp.com"),
        ("josé@bücher.de", "josé@bücher.de"),
        ("USER@XN--BCHER-KVA.DE", "user@bücher.de"),
    ],
)
def test_emails_are_trimmed_lowercased_and_idn_normalised(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "no-at-sign", "a@", "@example.com", "a b@example.com"])
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalise_email(raw)


def test_required_and_choice_errors_name_their_fields() -> None:
    intake = read_submission(FIELDS, {"email": "a@example.com", "size": "500+"}, {}, None)
    assert set(intake.errors) == {"company", "size"}


def test_values_are_sorted_into_lead_fields_custom_and_attribution() -> None:
    values = {
        "email": "a@example.com",
        "company": "Acme",
        "job_title": "CTO",
        "utm_source": "ads",
        "favourite": "teal",
        "_ln_vid": "v-1",
        "company_size": "1,200",
    }
    intake = read_submission(FIELDS, values, {"utm_medium": "cpc", "utm_source": "ignored"}, None)
    assert intake.errors == {}
    assert intake.lead_fields == {"company": "Acme", "job_title": "CTO", "company_size": 1200}
    assert intake.custom == {"favourite": "teal"}
    assert intake.attribution == {"utm_source": "ads", "utm_medium": "cpc"}
    assert intake.visitor_id == "v-1"


def test_honeypot_and_blank_values_are_not_kept() -> None:
    intake = read_submission(FIELDS, {"email": "a@example.com", "company": "A", "trap": "x", "note": "  "}, {}, "trap")
    assert intake.custom == {}


def test_overlong_values_and_too_many_fields_are_errors() -> None:
    values = {"email": "a@example.com", "company": "A", "bio": "x" * 2001}
    values |= {f"extra_{i}": "v" for i in range(60)}
    intake = read_submission(FIELDS, values, {}, None)
    assert "bio" in intake.errors
    assert "_form" in intake.errors

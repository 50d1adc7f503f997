"""Turning what a browser posted into clean lead data, or per-field errors. Pure logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

LEAD_FIELDS = {
    "first_name": 200,
    "last_name": 200,
    "company": 200,
    "job_title": 200,
    "phone": 50,
    "country": 100,
    "timezone": 64,
}
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
ATTRIBUTION_FIELDS = (*UTM_FIELDS, "referrer", "landing_page")
VISITOR_FIELD = "_ln_vid"
MAX_VALUE_LENGTH = 2000
MAX_CUSTOM_FIELDS = 50
MAX_FIELD_NAME = 100


@dataclass
class Intake:
    """A submission split into what goes where; `errors` maps field name to message."""

    email: str = ""
    lead_fields: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    attribution: dict[str, str] = field(default_factory=dict)
    visitor_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def normalise_email(raw: str) -> str:
    """Trimmed, validated, lower-cased; IDN domains in their Unicode form. Raises ValueError."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return str(result.normalized).lower()


def _clean(value: object) -> str:
    # NUL cannot be stored in PostgreSQL text and is never meaningful in a form value.
    return str(value).replace("\x00", "").strip() if value is not None else ""


def _company_size(value: str) -> int | None:
    digits = value.replace(",", "").replace(" ", "")
    return int(digits) if digits.isdigit() and len(digits) < 10 else None


def read_submission(
    fields: list[dict[str, Any]],
    values: dict[str, Any],
    query: dict[str, str],
    honeypot: str | None,
) -> Intake:
    """Validate posted `values` against the form's `fields`; UTM may come from the query."""
    intake = Intake()
    declared = {f["name"]: f for f in fields}
    for name, definition in declared.items():
        value = _clean(values.get(name))
        if definition.get("required") and not value:
            intake.errors[name] = "This field is required"
        elif value and definition.get("type") == "select" and value not in (definition.get("choices") or []):
            intake.errors[name] = "Choose one of the offered options"
        elif value and definition.get("type") == "number" and not _is_number(value):
            intake.errors[name] = "Enter a number"
    raw_email = _clean(values.get("email"))
    if raw_email:
        try:
            intake.email = normalise_email(raw_email)
        except ValueError as exc:
            intake.errors["email"] = f"Enter a valid email address ({exc})"
    elif "email" not in intake.errors:
        intake.errors["email"] = "This field is required"
    for name, raw in values.items():
        _sort_value(intake, _clean(name), _clean(raw), honeypot)
    for name in UTM_FIELDS:
        if name not in intake.attribution and _clean(query.get(name)):
            intake.attribution[name] = _clean(query.get(name))[:200]
    return intake


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _sort_value(intake: Intake, name: str, value: str, honeypot: str | None) -> None:
    if name in ("email", honeypot) or not value:
        return
    if len(value) > MAX_VALUE_LENGTH:
        intake.errors[name[:MAX_FIELD_NAME]] = f"At most {MAX_VALUE_LENGTH} characters"
        return
    if name == VISITOR_FIELD:
        intake.visitor_id = value[:64]
    elif name in LEAD_FIELDS:
        if len(value) > LEAD_FIELDS[name]:
            intake.errors[name] = f"At most {LEAD_FIELDS[name]} characters"
        else:
            intake.lead_fields[name] = value
    elif name == "company_size":
        size = _company_size(value)
        if size is None:
            intake.errors[name] = "Enter a whole number"
        else:
            intake.lead_fields[name] = size
    elif name in ATTRIBUTION_FIELDS:
        intake.attribution[name] = value[:200] if name in UTM_FIELDS else value
    elif len(name) > MAX_FIELD_NAME:
        intake.errors[name[:MAX_FIELD_NAME]] = f"Field names are at most {MAX_FIELD_NAME} characters"
    elif len(intake.custom) >= MAX_CUSTOM_FIELDS:
        intake.errors["_form"] = f"At most {MAX_CUSTOM_FIELDS} extra fields"
    else:
        intake.custom[name] = value

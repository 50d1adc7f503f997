"""API shapes of forms: create, update (all optional), public."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models import FormKind, FunnelStage

FIELD_TYPES = (
    "text",
    "email",
    "textarea",
    "select",
    "checkbox",
    "number",
    "phone",
    "country",
    "hidden",
)
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
FIELD_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _http_url(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http(s) URL")
    return value


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63)
    type: Literal["text", "email", "textarea", "select", "checkbox", "number", "phone", "country", "hidden"] = "text"
    required: bool = False
    label: str | None = Field(default=None, max_length=300)
    choices: list[str] | None = Field(default=None, max_length=200)

    @field_validator("name")
    @classmethod
    def _name_is_an_identifier(cls, value: str) -> str:
        if not FIELD_NAME_PATTERN.match(value):
            raise ValueError("must be lower-case letters, digits and underscores, starting with a letter")
        return value

    @model_validator(mode="after")
    def _select_has_choices(self) -> FormField:
        if self.type == "select" and not self.choices:
            raise ValueError(f"select field '{self.name}' needs choices")
        return self


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    url: str = Field(max_length=2000)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return _http_url(value, "offer url") or value


class FormSettings(BaseModel):
    """What create and update share; update makes every field optional."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: FormKind = FormKind.contact
    fields: list[FormField] = Field(
        default_factory=lambda: [FormField(name="email", type="email", required=True)],
        max_length=50,
    )
    offer: Offer | None = None
    stage_hint: FunnelStage | None = None
    points: int = Field(default=0, ge=-1000, le=1000)
    sequence_id: uuid.UUID | None = None
    redirect_url: str | None = Field(default=None, max_length=2000)
    double_opt_in: bool = False
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)
    honeypot_field: str | None = Field(default="website_url", max_length=63)

    @field_validator("redirect_url")
    @classmethod
    def _redirect_is_http(cls, value: str | None) -> str | None:
        return _http_url(value, "redirect_url")

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, values: list[str]) -> list[str]:
        for value in values:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"'{value}' is not an origin like https://www.example.com")
        return [v.rstrip("/") for v in values]

    @model_validator(mode="after")
    def _fields_are_consistent(self) -> FormSettings:
        names = [f.name for f in self.fields]
        if "email" not in names:
            raise ValueError("a form needs an 'email' field")
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        if self.honeypot_field and self.honeypot_field in names:
            raise ValueError("honeypot_field must not be one of the form's fields")
        return self


class FormCreate(FormSettings):
    slug: str = Field(min_length=1, max_length=100, pattern=SLUG_PATTERN)


class FormUpdate(BaseModel):
    """PATCH: only the fields given change; the result is validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: FormKind | None = None
    fields: list[FormField] | None = None
    offer: Offer | None = None
    stage_hint: FunnelStage | None = None
    points: int | None = None
    sequence_id: uuid.UUID | None = None
    redirect_url: str | None = None
    double_opt_in: bool | None = None
    allowed_origins: list[str] | None = None
    honeypot_field: str | None = None


class FormPublic(FormSettings):
    id: uuid.UUID
    slug: str
    hosted_url: str
    embed_html: str
    created_at: datetime
    updated_at: datetime


class CaptureAccepted(BaseModel):
    lead_id: uuid.UUID
    submission_id: uuid.UUID


def form_settings_dump(settings: FormSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json")

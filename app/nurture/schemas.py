"""API shapes of sequences: steps as a tagged union, triggers, exit criteria, send window."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.nurture.machine import LIFECYCLE, STAGES
from app.nurture.schedule import DAYS, parse_duration, zone


class EmailStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["email"]
    subject: str = Field(min_length=1, max_length=300)
    html: str = Field(min_length=1, max_length=200_000)
    text: str = Field(min_length=1, max_length=100_000)


class WaitStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["wait"]
    duration: str = Field(description="ISO-8601 duration: P3D, PT4H, PT5S")
    until_send_window: bool = Field(default=False, description="then wait on until the send window opens")

    @field_validator("duration")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value.strip().upper()


class BranchStep(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["branch"]
    condition: dict[str, Any] = Field(
        alias="if",
        description=(
            '{"clicked_step": n} | {"opened_step": n} | {"funnel_stage": "bofu"} | '
            '{"lifecycle_stage": "mql"} | {"min_engagement": 30} | {"field": "country", "equals": "DE"}'
        ),
    )
    then: int = Field(ge=0)
    otherwise: int = Field(alias="else", ge=0)

    @field_validator("condition")
    @classmethod
    def _known_condition(cls, value: dict[str, Any]) -> dict[str, Any]:
        known = {
            "clicked_step",
            "opened_step",
            "funnel_stage",
            "lifecycle_stage",
            "min_engagement",
            "field",
        }
        if len(set(value) & known) != 1:
            raise ValueError(f"give exactly one of: {', '.join(sorted(known))}")
        if "field" in value and ("equals" not in value or not str(value["field"]).strip()):
            raise ValueError("a field condition needs the field's name and 'equals'")
        _check_condition_value(value)
        return value


def _check_condition_value(condition: dict[str, Any]) -> None:
    """The step machine reads these as numbers and known stages; refuse anything else on save."""
    for key in ("clicked_step", "opened_step"):
        if key in condition and (type(condition[key]) is not int or condition[key] < 0):
            raise ValueError(f"{key} is the number of an email step (0, 1, ...)")
    if "min_engagement" in condition and type(condition["min_engagement"]) not in (int, float):
        raise ValueError("min_engagement is a number of points")
    if "funnel_stage" in condition and condition["funnel_stage"] not in STAGES:
        raise ValueError(f"funnel_stage is one of {', '.join(STAGES)}")
    if "lifecycle_stage" in condition and condition["lifecycle_stage"] not in LIFECYCLE:
        raise ValueError(f"lifecycle_stage is one of {', '.join(LIFECYCLE)}")


class ExitStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["exit"]


Step = Annotated[EmailStep | WaitStep | BranchStep | ExitStep, Field(discriminator="type")]


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["form_submitted", "form_kind", "funnel_stage_entered", "sales_rejected", "manual"] = "manual"
    form: str | None = Field(default=None, description="form slug, for form_submitted (empty: any form)")
    kind: str | None = Field(default=None, description="form kind, for form_kind")
    stage: Literal["tofu", "mofu", "bofu"] | None = None

    @model_validator(mode="after")
    def _complete(self) -> Trigger:
        if self.type == "form_kind" and not self.kind:
            raise ValueError("a form_kind trigger needs 'kind'")
        if self.type == "funnel_stage_entered" and not self.stage:
            raise ValueError("a funnel_stage_entered trigger needs 'stage'")
        return self


class SendWindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = time(9, 0)
    end: time = time(17, 0)
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.lower()[:3] for d in value]
        if any(d not in DAYS for d in days):
            raise ValueError(f"days are {', '.join(DAYS)}")
        return days

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if zone(value, "").key != value:
            raise ValueError("not an IANA time zone such as Europe/Berlin")
        return value

    @field_validator("start", "end")
    @classmethod
    def _local_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time such as 09:00; the zone is the window's `timezone`")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SendWindowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


EXIT_GOALS = re.compile(r"^(became_mql|reached_bofu|reached_mofu)$")


class SequenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger = Field(default_factory=Trigger)
    exit_when: list[str | dict[str, str]] = Field(
        default_factory=list,
        description=('"became_mql", "reached_bofu", {"lifecycle_stage": "sal"}, {"clicked": "/pricing"}'),
    )
    send_window: SendWindowIn | None = None
    reentry: str = Field(default="never", pattern=r"^(never|always|after:\d{1,4})$")
    throttle_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    steps: list[Step] = Field(min_length=1, max_length=50)

    @field_validator("exit_when")
    @classmethod
    def _goals(cls, value: list[str | dict[str, str]]) -> list[str | dict[str, str]]:
        for goal in value:
            if isinstance(goal, str) and not EXIT_GOALS.match(goal):
                raise ValueError(f"unknown goal '{goal}' (became_mql, reached_mofu, reached_bofu)")
            if isinstance(goal, dict) and set(goal) - {
                "lifecycle_stage",
                "funnel_stage",
                "clicked",
            }:
                raise ValueError("goal objects take lifecycle_stage, funnel_stage or clicked")
        return value

    @model_validator(mode="after")
    def _branches_point_inside(self) -> SequenceIn:
        for index, step in enumerate(self.steps):
            if isinstance(step, BranchStep):
                for target in (step.then, step.otherwise):
                    if target >= len(self.steps):
                        raise ValueError(f"step {index}: branch target {target} is past the last step")
                    if target == index:
                        raise ValueError(f"step {index}: a branch cannot point at itself")
        if not any(isinstance(step, EmailStep) for step in self.steps):
            raise ValueError("a sequence needs at least one email step")
        return self


class SequenceUpdate(BaseModel):
    """PATCH: given fields change; new steps make a new version (running leads keep theirs)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: Trigger | None = None
    exit_when: list[str | dict[str, str]] | None = None
    send_window: SendWindowIn | None = None
    reentry: str | None = Field(default=None, pattern=r"^(never|always|after:\d{1,4})$")
    throttle_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=50)


class SequencePublic(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    version: int
    trigger: dict[str, Any]
    exit_when: list[Any]
    send_window: dict[str, Any] | None
    reentry: str
    throttle_per_minute: int | None
    steps: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)
    filter: dict[str, Any] | None = Field(
        default=None,
        description=("lead filter: funnel_stage, lifecycle_stage, min_score, created_after"),
    )


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: uuid.UUID | None = Field(default=None, description="render for this lead (a sample lead if omitted)")


class TestSendRequest(PreviewRequest):
    to: str = Field(min_length=3, max_length=320)

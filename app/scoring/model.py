"""The scoring model: validated, versioned JSON. Marketers edit it; the engine reads it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Op = Literal[
    "equals",
    "not_equals",
    "contains",
    "contains_any",
    "not_contains_any",
    "in",
    "gte",
    "lte",
    "is_free_mail",
    "exists",
]
Stage = Literal["tofu", "mofu", "bofu"]


class Condition(BaseModel):
    """`field` names a fact: `type`, `properties.<name>`, `form_kind`, or a lead field such as
    `job_title`, `email_domain`, `country`, `company_size`, `custom.<name>`."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=100)
    op: Op
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in ("contains_any", "not_contains_any", "in") and not isinstance(self.value, list):
            raise ValueError(f"'{self.op}' needs a list value")
        if self.op in ("gte", "lte") and not isinstance(self.value, int | float):
            raise ValueError(f"'{self.op}' needs a number")
        return self


class EngagementRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")
    description: str = Field(default="", max_length=300)
    event: str = Field(min_length=1, max_length=40)
    when: list[Condition] = Field(default_factory=list)
    points: float = Field(ge=-1000, le=1000)
    cap_per_day: float | None = Field(default=None, gt=0, description="at most this many points a day per lead")

    @model_validator(mode="after")
    def _cap_allows_one_event(self) -> EngagementRule:
        if self.cap_per_day is not None and self.cap_per_day < self.points:
            raise ValueError("cap_per_day is below the points of a single event")
        return self


class FitRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")
    description: str = Field(default="", max_length=300)
    when: list[Condition] = Field(min_length=1)
    points: float = Field(ge=-1000, le=1000)


class IntentSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str
    when: list[Condition] = Field(default_factory=list)
    stage: Stage
    hand_raise: bool = Field(default=False, description="a demo/trial request: the short path to MQL")


class Bands(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mofu_at: float = Field(ge=0)
    bofu_at: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.bofu_at <= self.mofu_at:
            raise ValueError("bofu_at must be above mofu_at")
        return self


class MqlRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engagement_at_least: float
    fit_at_least: float
    hand_raise_fit_floor: float | None = Field(default=None, description="None: hand-raises need the full rule")


class RecycleRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engagement_factor: float = Field(default=0.25, ge=0, le=1, description="engagement kept when sales reject")


class ScoringModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    half_life_days: float = Field(gt=0, le=3650)
    intent_fresh_days: float = Field(gt=0, le=3650)
    engagement_rules: list[EngagementRule] = Field(max_length=500)
    fit_rules: list[FitRule] = Field(max_length=500)
    intent_signals: list[IntentSignal] = Field(max_length=200)
    bands: Bands
    mql: MqlRule
    recycle: RecycleRule = Field(default_factory=RecycleRule)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> ScoringModelConfig:
        ids = [r.id for r in self.engagement_rules] + [r.id for r in self.fit_rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicates)}")
        return self


def _form(kind: str) -> list[Condition]:
    return [Condition(field="form_kind", op="equals", value=kind)]


def _url(fragment: str) -> list[Condition]:
    return [Condition(field="properties.url", op="contains", value=fragment)]


DECISION_MAKERS = [
    "vp",
    "vice president",
    "head of",
    "director",
    "chief",
    "cmo",
    "ceo",
    "cto",
    "cfo",
    "coo",
    "founder",
    "owner",
    "president",
    "partner",
]

DEFAULT_MODEL = ScoringModelConfig(
    half_life_days=30,
    intent_fresh_days=30,
    engagement_rules=[
        EngagementRule(id="newsletter_signup", event="form_submitted", when=_form("newsletter"), points=5),
        EngagementRule(id="ebook_form", event="form_submitted", when=_form("ebook"), points=10),
        EngagementRule(id="webinar_registration", event="form_submitted", when=_form("webinar"), points=15),
        EngagementRule(id="contact_form", event="form_submitted", when=_form("contact"), points=20),
        EngagementRule(id="demo_request", event="form_submitted", when=_form("demo_request"), points=30),
        EngagementRule(id="trial_signup", event="form_submitted", when=_form("trial"), points=30),
        EngagementRule(id="content_download", event="content_downloaded", points=3, cap_per_day=9),
        EngagementRule(id="pricing_page", event="page_viewed", when=_url("/pricing"), points=10, cap_per_day=20),
        EngagementRule(
            id="case_study_page",
            event="page_viewed",
            when=_url("/case-stud"),
            points=5,
            cap_per_day=10,
        ),
        EngagementRule(id="page_view", event="page_viewed", points=1, cap_per_day=10),
        EngagementRule(id="email_open", event="email_opened", points=1, cap_per_day=3),
        EngagementRule(id="email_click", event="email_clicked", points=5, cap_per_day=15),
        EngagementRule(id="webinar_attended", event="webinar_attended", points=20),
    ],
    fit_rules=[
        FitRule(
            id="decision_maker",
            description="decision-maker title",
            when=[Condition(field="job_title", op="contains_any", value=DECISION_MAKERS)],
            points=25,
        ),
        FitRule(
            id="manager",
            description="manager or team lead",
            when=[
                Condition(field="job_title", op="contains_any", value=["manager", "lead"]),
                Condition(field="job_title", op="not_contains_any", value=DECISION_MAKERS),
            ],
            points=10,
        ),
        FitRule(
            id="student",
            description="students and interns are not buyers",
            when=[Condition(field="job_title", op="contains_any", value=["student", "intern"])],
            points=-20,
        ),
        FitRule(
            id="business_domain",
            description="business email domain",
            when=[Condition(field="email_domain", op="is_free_mail", value=False)],
            points=10,
        ),
        FitRule(
            id="free_mail",
            description="free-mail address (gmail, yahoo...)",
            when=[Condition(field="email_domain", op="is_free_mail", value=True)],
            points=-15,
        ),
        FitRule(
            id="company_50_plus",
            description="company of 50 people or more",
            when=[Condition(field="company_size", op="gte", value=50)],
            points=10,
        ),
    ],
    intent_signals=[
        IntentSignal(event="form_submitted", when=_form("newsletter"), stage="tofu"),
        IntentSignal(event="form_submitted", when=_form("ebook"), stage="tofu"),
        IntentSignal(event="content_downloaded", stage="tofu"),
        IntentSignal(event="form_submitted", when=_form("webinar"), stage="mofu"),
        IntentSignal(event="webinar_attended", stage="mofu"),
        IntentSignal(event="page_viewed", when=_url("/case-stud"), stage="mofu"),
        IntentSignal(event="page_viewed", when=_url("/pricing"), stage="bofu"),
        IntentSignal(event="form_submitted", when=_form("demo_request"), stage="bofu", hand_raise=True),
        IntentSignal(event="form_submitted", when=_form("trial"), stage="bofu", hand_raise=True),
    ],
    bands=Bands(mofu_at=20, bofu_at=50),
    mql=MqlRule(engagement_at_least=50, fit_at_least=30, hand_raise_fit_floor=10),
    recycle=RecycleRule(engagement_factor=0.25),
)

"""The sequence step editor's form, as pure functions: posted fields → a draft → the payload the
JSON API accepts (`SequenceIn`), editing operations on the draft, and validation errors mapped
back onto the form's fields. No session, no request: the routes do the I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from app.nurture.schedule import DAYS, parse_duration

STEP_KINDS = ("email", "wait", "branch", "exit")
CONDITIONS = ("clicked_step", "opened_step", "funnel_stage", "lifecycle_stage", "min_engagement", "field")
GOALS = ("became_mql", "reached_mofu", "reached_bofu")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
_STEP_FIELD = re.compile(r"^steps-(\d{1,3})-(\w+)$")
_HUMAN_PART = re.compile(r"(\d+)\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
DAY_NAMES = dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


@dataclass
class StepDraft:
    """One step as the marketer typed it (strings, so a wrong value is shown back as typed)."""

    type: str
    subject: str = ""
    html: str = ""
    text: str = ""
    duration: str = ""
    until_send_window: bool = False
    condition: str = "clicked_step"
    cond_step: str = ""
    cond_funnel_stage: str = ""
    cond_lifecycle_stage: str = ""
    cond_points: str = ""
    cond_field: str = ""
    cond_equals: str = ""
    then: str = ""
    otherwise: str = ""


@dataclass
class SequenceDraft:
    name: str = ""
    trigger_type: str = "manual"
    trigger_form: str = ""
    trigger_kind: str = ""
    trigger_stage: str = ""
    goals: list[str] = field(default_factory=list)
    goal_lifecycle_stage: str = ""
    goal_clicked: str = ""
    goal_other: str = ""
    window_on: bool = False
    window_days: list[str] = field(default_factory=lambda: list(WEEKDAYS))
    window_start: str = "09:00"
    window_end: str = "17:00"
    window_timezone: str = "UTC"
    reentry: str = "never"
    reentry_days: str = ""
    throttle_per_minute: str = ""
    steps: list[StepDraft] = field(default_factory=list)


def new_step(kind: str) -> StepDraft:
    """A fresh step of the chosen kind, with sensible starting values."""
    if kind == "wait":
        return StepDraft(type="wait", duration="P2D")
    return StepDraft(type=kind if kind in STEP_KINDS else "email")


def starter_draft() -> SequenceDraft:
    return SequenceDraft(steps=[new_step("email")])


# --- posted form → draft ---------------------------------------------------------------


def draft_from_form(items: Iterable[tuple[str, str]]) -> SequenceDraft:
    """Read the editor's fields (`name`, `trigger_type`, ..., `steps-0-subject`, ...)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    steps: dict[int, dict[str, str]] = {}
    for key, value in items:
        match = _STEP_FIELD.match(key)
        if match:
            steps.setdefault(int(match.group(1)), {})[match.group(2)] = value
            continue
        single[key] = value
        multi.setdefault(key, []).append(value)
    return SequenceDraft(
        name=single.get("name", ""),
        trigger_type=single.get("trigger_type", "manual"),
        trigger_form=single.get("trigger_form", ""),
        trigger_kind=single.get("trigger_kind", ""),
        trigger_stage=single.get("trigger_stage", ""),
        goals=[g for g in multi.get("goal", []) if g],
        goal_lifecycle_stage=single.get("goal_lifecycle_stage", ""),
        goal_clicked=single.get("goal_clicked", ""),
        goal_other=single.get("goal_other", ""),
        window_on=single.get("window_on") == "on",
        window_days=multi.get("window_days", []),
        window_start=single.get("window_start", ""),
        window_end=single.get("window_end", ""),
        window_timezone=single.get("window_timezone", ""),
        reentry=single.get("reentry", "never"),
        reentry_days=single.get("reentry_days", ""),
        throttle_per_minute=single.get("throttle_per_minute", ""),
        steps=[_step_from_fields(steps[index]) for index in sorted(steps)],
    )


def _step_from_fields(fields: dict[str, str]) -> StepDraft:
    return StepDraft(
        type=fields.get("type", ""),
        subject=fields.get("subject", ""),
        html=fields.get("html", ""),
        text=fields.get("text", ""),
        duration=fields.get("duration", ""),
        until_send_window=fields.get("until_send_window") == "on",
        condition=fields.get("condition", "clicked_step"),
        cond_step=fields.get("cond_step", ""),
        cond_funnel_stage=fields.get("cond_funnel_stage", ""),
        cond_lifecycle_stage=fields.get("cond_lifecycle_stage", ""),
        cond_points=fields.get("cond_points", ""),
        cond_field=fields.get("cond_field", ""),
        cond_equals=fields.get("cond_equals", ""),
        then=fields.get("then", ""),
        otherwise=fields.get("else", ""),
    )


# --- draft → the JSON API's payload ----------------------------------------------------


def sequence_payload(draft: SequenceDraft) -> dict[str, Any]:
    """The body `POST /api/v1/sequences` takes, built from the draft; validation is left to
    `SequenceIn`, so a wrong value is passed on as typed and refused there."""
    return {
        "name": draft.name.strip(),
        "trigger": _trigger(draft),
        "exit_when": _goals(draft),
        "send_window": _send_window(draft),
        "reentry": _reentry(draft),
        "throttle_per_minute": _number(draft.throttle_per_minute) if draft.throttle_per_minute.strip() else None,
        "steps": [step_payload(step) for step in draft.steps],
    }


def step_payload(step: StepDraft) -> dict[str, Any]:
    if step.type == "email":
        return {"type": "email", "subject": step.subject, "html": step.html, "text": step.text}
    if step.type == "wait":
        return {"type": "wait", "duration": iso_duration(step.duration), "until_send_window": step.until_send_window}
    if step.type == "branch":
        return {
            "type": "branch",
            "if": _condition(step),
            "then": _number(step.then),
            "else": _number(step.otherwise),
        }
    return {"type": step.type}


def _condition(step: StepDraft) -> dict[str, Any]:
    if step.condition in ("clicked_step", "opened_step"):
        return {step.condition: _number(step.cond_step)}
    if step.condition == "funnel_stage":
        return {"funnel_stage": step.cond_funnel_stage}
    if step.condition == "lifecycle_stage":
        return {"lifecycle_stage": step.cond_lifecycle_stage}
    if step.condition == "min_engagement":
        return {"min_engagement": _number(step.cond_points)}
    if step.condition == "field":
        return {"field": step.cond_field.strip(), "equals": step.cond_equals}
    return {step.condition: ""}


def _number(text: str) -> int | float | str:
    """An integer or a number when it reads as one; otherwise the text, for the validator to refuse."""
    cleaned = text.strip()
    if re.fullmatch(r"-?\d+", cleaned):
        return int(cleaned)
    try:
        return float(cleaned)
    except ValueError:
        return cleaned


def _trigger(draft: SequenceDraft) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": draft.trigger_type}
    if draft.trigger_type == "form_submitted":
        trigger["form"] = draft.trigger_form or None
    elif draft.trigger_type == "form_kind":
        trigger["kind"] = draft.trigger_kind or None
    elif draft.trigger_type == "funnel_stage_entered":
        trigger["stage"] = draft.trigger_stage or None
    return trigger


def _goals(draft: SequenceDraft) -> list[Any]:
    goals: list[Any] = [g for g in GOALS if g in draft.goals]
    if draft.goal_lifecycle_stage:
        goals.append({"lifecycle_stage": draft.goal_lifecycle_stage})
    goals += [{"clicked": line.strip()} for line in draft.goal_clicked.splitlines() if line.strip()]
    if draft.goal_other.strip():
        try:
            other = json.loads(draft.goal_other)
        except ValueError:
            other = [draft.goal_other]
        goals += other if isinstance(other, list) else [other]
    return goals


def _send_window(draft: SequenceDraft) -> dict[str, Any] | None:
    if not draft.window_on:
        return None
    return {
        "days": draft.window_days,
        "start": draft.window_start,
        "end": draft.window_end,
        "timezone": draft.window_timezone.strip(),
    }


def _reentry(draft: SequenceDraft) -> str:
    if draft.reentry == "after":
        return f"after:{draft.reentry_days.strip()}"
    return draft.reentry


# --- a saved definition (or pasted JSON) → draft ----------------------------------------


def draft_from_definition(definition: dict[str, Any]) -> SequenceDraft:
    """The editor's view of a sequence as the API shows it (or of JSON pasted by the marketer)."""
    trigger = _mapping(definition.get("trigger"))
    window = _mapping(definition.get("send_window"))
    reentry = str(definition.get("reentry") or "never")
    goals, lifecycle, clicked, other = _split_goals(definition.get("exit_when"))
    throttle = definition.get("throttle_per_minute")
    steps = definition.get("steps")
    return SequenceDraft(
        name=str(definition.get("name") or ""),
        trigger_type=str(trigger.get("type") or "manual"),
        trigger_form=str(trigger.get("form") or ""),
        trigger_kind=str(trigger.get("kind") or ""),
        trigger_stage=str(trigger.get("stage") or ""),
        goals=goals,
        goal_lifecycle_stage=lifecycle,
        goal_clicked="\n".join(clicked),
        goal_other=json.dumps(other) if other else "",
        window_on=bool(window),
        window_days=[str(d) for d in window.get("days", WEEKDAYS)] if window else list(WEEKDAYS),
        window_start=str(window.get("start", "09:00"))[:5],
        window_end=str(window.get("end", "17:00"))[:5],
        window_timezone=str(window.get("timezone", "UTC")),
        reentry="after" if reentry.startswith("after:") else reentry,
        reentry_days=reentry.split(":", 1)[1] if reentry.startswith("after:") else "",
        throttle_per_minute="" if throttle is None else str(throttle),
        steps=[_step_from_definition(_mapping(s)) for s in steps] if isinstance(steps, list) else [],
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _split_goals(value: Any) -> tuple[list[str], str, list[str], list[Any]]:
    goals: list[str] = []
    lifecycle = ""
    clicked: list[str] = []
    other: list[Any] = []
    for goal in value if isinstance(value, list) else []:
        if goal in GOALS:
            goals.append(goal)
        elif isinstance(goal, dict) and set(goal) == {"lifecycle_stage"} and not lifecycle:
            lifecycle = str(goal["lifecycle_stage"])
        elif isinstance(goal, dict) and set(goal) == {"clicked"}:
            clicked.append(str(goal["clicked"]))
        else:
            other.append(goal)
    return goals, lifecycle, clicked, other


def _step_from_definition(step: dict[str, Any]) -> StepDraft:
    kind = _text(step.get("type"))
    if kind == "email":
        return StepDraft(
            type="email", subject=_text(step.get("subject")), html=_text(step.get("html")), text=_text(step.get("text"))
        )
    if kind == "wait":
        return StepDraft(
            type="wait", duration=_text(step.get("duration")), until_send_window=bool(step.get("until_send_window"))
        )
    if kind == "branch":
        condition = _mapping(step.get("if"))
        chosen = next((c for c in CONDITIONS if c in condition), "clicked_step")
        return StepDraft(
            type="branch",
            condition=chosen,
            cond_step=_text(condition.get("clicked_step", condition.get("opened_step"))),
            cond_funnel_stage=_text(condition.get("funnel_stage")),
            cond_lifecycle_stage=_text(condition.get("lifecycle_stage")),
            cond_points=_text(condition.get("min_engagement")),
            cond_field=_text(condition.get("field")),
            cond_equals=_text(condition.get("equals")),
            then=_text(step.get("then")),
            otherwise=_text(step.get("else")),
        )
    return StepDraft(type=kind)


# --- editing operations ------------------------------------------------------------------


def add_step(draft: SequenceDraft, kind: str) -> SequenceDraft:
    return replace(draft, steps=[*draft.steps, new_step(kind)])


def move_step(draft: SequenceDraft, index: int, offset: int) -> SequenceDraft:
    """Swap a step with its neighbour; branches keep pointing at the same steps."""
    other = index + offset
    if not (0 <= index < len(draft.steps) and 0 <= other < len(draft.steps)):
        return draft
    steps = list(draft.steps)
    steps[index], steps[other] = steps[other], steps[index]
    swap = {index: other, other: index}
    return replace(draft, steps=[_renumber(step, lambda n: swap.get(n, n)) for step in steps])


def remove_step(draft: SequenceDraft, index: int) -> SequenceDraft:
    """Drop a step; branch targets after it shift down, ones pointing at it are left blank to choose again."""
    if not 0 <= index < len(draft.steps):
        return draft
    steps = draft.steps[:index] + draft.steps[index + 1 :]

    def shifted(n: int) -> int | None:
        if n == index:
            return None
        return n - 1 if n > index else n

    return replace(draft, steps=[_renumber(step, shifted) for step in steps])


def _renumber(step: StepDraft, new_number: Callable[[int], int | None]) -> StepDraft:
    if step.type != "branch":
        return step

    def mapped(text: str) -> str:
        if not re.fullmatch(r"\d+", text.strip()):
            return text
        number = new_number(int(text))
        return "" if number is None else str(number)

    return replace(step, then=mapped(step.then), otherwise=mapped(step.otherwise), cond_step=mapped(step.cond_step))


# --- durations ---------------------------------------------------------------------------


def iso_duration(text: str) -> str:
    """`3 days`, `4h`, `1 day 12 hours` → `P3D`, `PT4H`, `P1DT12H`; ISO-8601 or anything else is passed on."""
    cleaned = text.strip().lower()
    parts = _HUMAN_PART.findall(cleaned)
    if not parts or _HUMAN_PART.sub("", cleaned).replace(",", "").replace("and", "").strip():
        return text.strip()
    amounts = dict.fromkeys(_UNITS.values(), 0)
    for amount, unit in parts:
        amounts[_UNITS[unit[0]]] += int(amount)
    date = "".join(f"{amounts[u]}{u[0].upper()}" for u in ("weeks", "days") if amounts[u])
    clock = "".join(f"{amounts[u]}{u[0].upper()}" for u in ("hours", "minutes", "seconds") if amounts[u])
    return "P" + date + ("T" + clock if clock else "")


def describe_duration(text: str) -> str:
    """A wait as a person says it: `P1DT12H` → `1 day 12 hours`; empty when it is not a duration."""
    try:
        duration = parse_duration(iso_duration(text))
    except ValueError:
        return ""
    seconds = int(duration.total_seconds())
    words = []
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            words.append(f"{amount} {unit}{'' if amount == 1 else 's'}")
    return " ".join(words)


# --- validation errors → the fields they are about ---------------------------------------

_STEP_PARTS = {"if": "condition", "else": "else"}
_WINDOW_PARTS = {"days": "window_days", "start": "window_start", "end": "window_end", "timezone": "window_timezone"}


def field_errors(detail: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Errors in the API's shape (`{"loc", "msg"}`) keyed by the editor field they belong to:
    `steps-2-subject`, `steps-2` (the step as a whole), `trigger_stage`, ... and `""` (the sequence)."""
    errors: dict[str, list[str]] = {}
    for error in detail:
        loc = [p for p in error.get("loc", []) if p != "body"]
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        key = _field_of(loc, message)
        if key.startswith("steps-") and key.count("-") == 1:
            message = re.sub(r"^step \d+: ", "", message)
        errors.setdefault(key, []).append(message)
    return errors


def _field_of(loc: list[Any], message: str) -> str:
    if not loc:
        step = re.match(r"step (\d+):", message)
        return f"steps-{step.group(1)}" if step else ""
    head = loc[0]
    if head == "steps":
        if len(loc) == 1:
            return "steps"
        rest = [p for p in loc[2:] if p not in STEP_KINDS]
        if not rest:
            return f"steps-{loc[1]}"
        return f"steps-{loc[1]}-{_STEP_PARTS.get(str(rest[0]), str(rest[0]))}"
    if head == "trigger":
        if len(loc) > 1:
            return f"trigger_{loc[1]}"
        return "trigger_kind" if "'kind'" in message else "trigger_stage" if "'stage'" in message else "trigger_type"
    if head == "send_window":
        return _WINDOW_PARTS.get(str(loc[1]), "window_end") if len(loc) > 1 else "window_end"
    if head == "exit_when":
        return "goals"
    return str(head)

"""The step machine: from an enrollment's position and what we know of the lead, the next
action. Pure: no database, no clock of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from app.nurture.schedule import parse_duration

STAGES = {"tofu": 0, "mofu": 1, "bofu": 2}
LIFECYCLE = ["subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer"]
MAX_HOPS = 50  # branches can loop; an enrollment never spins inside one tick


@dataclass(frozen=True)
class LeadState:
    """What branch conditions and goals can look at."""

    funnel_stage: str
    lifecycle_stage: str
    engagement: float
    fields: dict[str, Any] = field(default_factory=dict)
    opened_steps: frozenset[int] = frozenset()
    clicked_steps: frozenset[int] = frozenset()
    clicked_urls: tuple[str, ...] = ()
    became_mql_since_enrolled: bool = False


@dataclass(frozen=True)
class Action:
    kind: Literal["send", "wait", "done"]
    position: int  # send: the email step; wait/done: where to resume
    run_at: datetime | None = None
    reason: str = ""


def _rank(stage: str) -> int:
    return LIFECYCLE.index(stage) if stage in LIFECYCLE else -1


def branch_holds(condition: dict[str, Any], lead: LeadState) -> bool:
    if "clicked_step" in condition:
        return int(condition["clicked_step"]) in lead.clicked_steps
    if "opened_step" in condition:
        return int(condition["opened_step"]) in lead.opened_steps
    if "funnel_stage" in condition:
        return STAGES.get(lead.funnel_stage, 0) >= STAGES.get(str(condition["funnel_stage"]), 0)
    if "lifecycle_stage" in condition:
        return _rank(lead.lifecycle_stage) >= _rank(str(condition["lifecycle_stage"]))
    if "min_engagement" in condition:
        return lead.engagement >= float(condition["min_engagement"])
    if "field" in condition:
        return str(lead.fields.get(condition["field"], "")).lower() == str(condition["equals"]).lower()
    return False


def goal_reached(goals: list[Any], lead: LeadState) -> str | None:
    """The first exit goal the lead has reached, named for stats; None if none."""
    for goal in goals:
        if goal == "became_mql" and (lead.became_mql_since_enrolled or _rank(lead.lifecycle_stage) >= _rank("mql")):
            return "became_mql"
        if goal in ("reached_bofu", "reached_mofu") and branch_holds({"funnel_stage": goal[-4:]}, lead):
            return str(goal)
        if isinstance(goal, dict):
            if "lifecycle_stage" in goal and branch_holds({"lifecycle_stage": goal["lifecycle_stage"]}, lead):
                return str(f"lifecycle_{goal['lifecycle_stage']}")
            if "funnel_stage" in goal and branch_holds({"funnel_stage": goal["funnel_stage"]}, lead):
                return str(f"funnel_{goal['funnel_stage']}")
            if "clicked" in goal and any(goal["clicked"] in url for url in lead.clicked_urls):
                return "clicked_goal"
    return None


def next_action(steps: list[dict[str, Any]], position: int, lead: LeadState, now: datetime) -> Action:
    """Walk from `position` through branches to the next email to send, wait, or the end."""
    for _ in range(MAX_HOPS):
        if position >= len(steps):
            return Action("done", position, reason="completed")
        step = steps[position]
        kind = step["type"]
        if kind == "email":
            return Action("send", position)
        if kind == "wait":
            return Action(
                "wait",
                position + 1,
                now + parse_duration(step["duration"]),
                reason="until_send_window" if step.get("until_send_window") else "",
            )
        if kind == "exit":
            return Action("done", position, reason="exit_step")
        position = step["then"] if branch_holds(step["if"], lead) else step["else"]
    return Action("done", position, reason="branch_loop")

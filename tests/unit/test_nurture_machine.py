"""The step machine: where an enrollment goes next, and when a sequence's goal is reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.nurture.machine import Action, LeadState, goal_reached, next_action

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
# The reference sequence of SPEC §9.
REFERENCE: list[dict[str, Any]] = [
    {"type": "email", "subject": "Your playbook", "html": "<p>1</p>", "text": "1"},
    {"type": "wait", "duration": "PT2S"},
    {"type": "email", "subject": "Case study", "html": "<p>2</p>", "text": "2"},
    {"type": "branch", "if": {"clicked_step": 0}, "then": 5, "else": 4},
    {"type": "email", "subject": "Did you get a chance to read it?", "html": "<p>3</p>", "text": "3"},
    {"type": "exit"},
]


def lead(**changes: Any) -> LeadState:
    return LeadState(**({"funnel_stage": "tofu", "lifecycle_stage": "lead", "engagement": 0.0} | changes))


def test_an_email_step_is_sent_where_the_enrollment_stands() -> None:
    assert next_action(REFERENCE, 0, lead(), NOW) == Action("send", 0)


def test_a_wait_resumes_after_its_duration_at_the_next_step() -> None:
    assert next_action(REFERENCE, 1, lead(), NOW) == Action("wait", 2, NOW + timedelta(seconds=2))


def test_branch_on_a_click_of_step_0_jumps_to_the_exit() -> None:
    assert next_action(REFERENCE, 3, lead(clicked_steps=frozenset({0})), NOW) == Action("done", 5, reason="exit_step")


def test_branch_without_the_click_sends_the_reminder() -> None:
    assert next_action(REFERENCE, 3, lead(), NOW) == Action("send", 4)


def test_running_off_the_end_completes() -> None:
    assert next_action(REFERENCE[:3], 3, lead(), NOW) == Action("done", 3, reason="completed")


def test_a_branch_loop_ends_instead_of_spinning() -> None:
    loop = [
        {"type": "branch", "if": {"opened_step": 9}, "then": 1, "else": 1},
        {"type": "branch", "if": {"opened_step": 9}, "then": 0, "else": 0},
    ]
    assert next_action(loop, 0, lead(), NOW).reason == "branch_loop"


def test_branch_conditions_on_stage_score_and_fields() -> None:
    steps = [
        {"type": "branch", "if": {"funnel_stage": "mofu"}, "then": 1, "else": 2},
        {"type": "email", "subject": "a", "html": "a", "text": "a"},
        {"type": "email", "subject": "b", "html": "b", "text": "b"},
    ]
    assert next_action(steps, 0, lead(funnel_stage="bofu"), NOW).position == 1
    assert next_action(steps, 0, lead(funnel_stage="tofu"), NOW).position == 2
    steps[0]["if"] = {"min_engagement": 30}
    assert next_action(steps, 0, lead(engagement=30.0), NOW).position == 1
    steps[0]["if"] = {"field": "country", "equals": "de"}
    assert next_action(steps, 0, lead(fields={"country": "DE"}), NOW).position == 1
    steps[0]["if"] = {"lifecycle_stage": "mql"}
    assert next_action(steps, 0, lead(lifecycle_stage="sal"), NOW).position == 1


def test_became_mql_is_reached_by_a_new_mql_or_a_later_lifecycle_stage() -> None:
    assert goal_reached(["became_mql"], lead(became_mql_since_enrolled=True)) == "became_mql"
    assert goal_reached(["became_mql"], lead(lifecycle_stage="sql")) == "became_mql"
    assert goal_reached(["became_mql"], lead(lifecycle_stage="recycled")) is None


def test_funnel_lifecycle_and_click_goals() -> None:
    assert goal_reached([{"funnel_stage": "bofu"}], lead(funnel_stage="bofu")) == "funnel_bofu"
    assert goal_reached([{"funnel_stage": "bofu"}], lead(funnel_stage="mofu")) is None
    assert goal_reached(["reached_mofu"], lead(funnel_stage="bofu")) == "reached_mofu"
    assert goal_reached([{"lifecycle_stage": "sal"}], lead(lifecycle_stage="customer")) == "lifecycle_sal"
    clicked = lead(clicked_urls=("https://www.example.com/pricing?plan=pro",))
    assert goal_reached([{"clicked": "/pricing"}], clicked) == "clicked_goal"
    assert goal_reached([{"clicked": "/demo"}], clicked) is None

"""Sequence definitions the step machine could not run are refused on save. Pure."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.nurture.schemas import SequenceIn

EMAIL = {"type": "email", "subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}


def _with_branch(condition: dict[str, Any]) -> dict[str, Any]:
    return {"name": "x", "steps": [EMAIL, {"type": "branch", "if": condition, "then": 0, "else": 0}, EMAIL]}


@pytest.mark.parametrize(
    "condition",
    [
        {"clicked_step": 0},
        {"opened_step": 2},
        {"funnel_stage": "bofu"},
        {"lifecycle_stage": "sal"},
        {"min_engagement": 30},
        {"min_engagement": 12.5},
        {"field": "country", "equals": "DE"},
    ],
)
def test_branch_conditions_the_machine_can_read_are_accepted(condition: dict[str, Any]) -> None:
    SequenceIn.model_validate(_with_branch(condition))


@pytest.mark.parametrize(
    "condition",
    [
        {"clicked_step": ""},
        {"clicked_step": "0"},
        {"opened_step": -1},
        {"opened_step": True},
        {"funnel_stage": ""},
        {"funnel_stage": "hot"},
        {"lifecycle_stage": "vip"},
        {"min_engagement": "lots"},
        {"field": " ", "equals": "DE"},
        {"field": "country"},
    ],
)
def test_branch_conditions_the_machine_cannot_read_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        SequenceIn.model_validate(_with_branch(condition))
    assert error.value.errors()[0]["loc"] == ("steps", 1, "branch", "if")

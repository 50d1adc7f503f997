"""The step editor's form → the JSON API's sequence payload, and the editing buttons. Pure."""

from __future__ import annotations

from app.nurture.schemas import SequenceIn
from app.ui.sequence_form import (
    SequenceDraft,
    StepDraft,
    add_step,
    describe_duration,
    draft_from_definition,
    draft_from_form,
    field_errors,
    iso_duration,
    move_step,
    remove_step,
    sequence_payload,
)

POSTED = [
    ("csrf_token", "x"),
    ("op", "save"),
    ("name", " Welcome "),
    ("trigger_type", "form_submitted"),
    ("trigger_form", "playbook"),
    ("trigger_kind", "ebook"),
    ("goal", "became_mql"),
    ("goal", "reached_bofu"),
    ("goal_lifecycle_stage", "sal"),
    ("goal_clicked", "/pricing\n\n/demo"),
    ("window_on", "on"),
    ("window_days", "mon"),
    ("window_days", "wed"),
    ("window_start", "08:30"),
    ("window_end", "18:00"),
    ("window_timezone", "Europe/Berlin"),
    ("reentry", "after"),
    ("reentry_days", "30"),
    ("throttle_per_minute", "100"),
    ("steps-0-type", "email"),
    ("steps-0-subject", "Hi {{ lead.first_name }}"),
    ("steps-0-html", "<p>Hi</p>"),
    ("steps-0-text", "Hi"),
    ("steps-1-type", "wait"),
    ("steps-1-duration", "3 days"),
    ("steps-1-until_send_window", "on"),
    ("steps-2-type", "branch"),
    ("steps-2-condition", "clicked_step"),
    ("steps-2-cond_step", "0"),
    ("steps-2-cond_funnel_stage", "bofu"),
    ("steps-2-then", "3"),
    ("steps-2-else", "4"),
    ("steps-3-type", "exit"),
    ("steps-4-type", "email"),
    ("steps-4-subject", "Again"),
    ("steps-4-html", "<p>Again</p>"),
    ("steps-4-text", "Again"),
]

EXPECTED = {
    "name": "Welcome",
    "trigger": {"type": "form_submitted", "form": "playbook"},
    "exit_when": [
        "became_mql",
        "reached_bofu",
        {"lifecycle_stage": "sal"},
        {"clicked": "/pricing"},
        {"clicked": "/demo"},
    ],
    "send_window": {"days": ["mon", "wed"], "start": "08:30", "end": "18:00", "timezone": "Europe/Berlin"},
    "reentry": "after:30",
    "throttle_per_minute": 100,
    "steps": [
        {"type": "email", "subject": "Hi {{ lead.first_name }}", "html": "<p>Hi</p>", "text": "Hi"},
        {"type": "wait", "duration": "P3D", "until_send_window": True},
        {"type": "branch", "if": {"clicked_step": 0}, "then": 3, "else": 4},
        {"type": "exit"},
        {"type": "email", "subject": "Again", "html": "<p>Again</p>", "text": "Again"},
    ],
}


def test_posted_editor_fields_become_the_api_payload() -> None:
    assert sequence_payload(draft_from_form(POSTED)) == EXPECTED


def test_the_payload_passes_the_api_validator() -> None:
    SequenceIn.model_validate(sequence_payload(draft_from_form(POSTED)))


def test_steps_follow_their_numbers_not_the_order_posted() -> None:
    posted = [("steps-1-type", "exit"), ("steps-0-type", "wait"), ("steps-0-duration", "PT4H")]
    assert [s["type"] for s in sequence_payload(draft_from_form(posted))["steps"]] == ["wait", "exit"]


def test_unchecked_window_and_empty_throttle_mean_none() -> None:
    payload = sequence_payload(draft_from_form([("name", "x"), ("window_days", "mon"), ("throttle_per_minute", " ")]))
    assert payload["send_window"] is None
    assert payload["throttle_per_minute"] is None
    assert payload["trigger"] == {"type": "manual"}
    assert payload["reentry"] == "never"


def test_trigger_takes_only_the_input_its_type_uses() -> None:
    def trigger(kind: str) -> dict[str, object]:
        fields = [("trigger_type", kind), ("trigger_form", ""), ("trigger_kind", "webinar"), ("trigger_stage", "mofu")]
        return dict(sequence_payload(draft_from_form(fields))["trigger"])

    assert trigger("form_submitted") == {"type": "form_submitted", "form": None}
    assert trigger("form_kind") == {"type": "form_kind", "kind": "webinar"}
    assert trigger("funnel_stage_entered") == {"type": "funnel_stage_entered", "stage": "mofu"}
    assert trigger("sales_rejected") == {"type": "sales_rejected"}


def test_each_branch_condition_reads_its_own_input() -> None:
    def condition(kind: str) -> object:
        step = StepDraft(
            type="branch",
            condition=kind,
            cond_step="2",
            cond_funnel_stage="mofu",
            cond_lifecycle_stage="mql",
            cond_points="30.5",
            cond_field=" country ",
            cond_equals="DE",
        )
        return sequence_payload(SequenceDraft(steps=[step]))["steps"][0]["if"]

    assert condition("opened_step") == {"opened_step": 2}
    assert condition("funnel_stage") == {"funnel_stage": "mofu"}
    assert condition("lifecycle_stage") == {"lifecycle_stage": "mql"}
    assert condition("min_engagement") == {"min_engagement": 30.5}
    assert condition("field") == {"field": "country", "equals": "DE"}


def test_a_wrong_number_is_passed_on_as_typed_for_the_validator_to_refuse() -> None:
    step = StepDraft(type="branch", then="", otherwise="two", cond_step="")
    assert sequence_payload(SequenceDraft(steps=[step]))["steps"][0] == {
        "type": "branch",
        "if": {"clicked_step": ""},
        "then": "",
        "else": "two",
    }


def test_a_saved_sequence_reads_back_into_the_same_payload() -> None:
    definition = EXPECTED | {"send_window": EXPECTED["send_window"] | {"start": "08:30:00", "end": "18:00:00"}}
    definition["trigger"] = {"type": "form_submitted", "form": "playbook", "kind": None, "stage": None}
    assert sequence_payload(draft_from_definition(definition)) == EXPECTED


def test_goals_the_form_has_no_input_for_are_kept() -> None:
    draft = draft_from_definition({"exit_when": [{"funnel_stage": "bofu"}, "became_mql"], "steps": []})
    assert sequence_payload(draft)["exit_when"] == ["became_mql", {"funnel_stage": "bofu"}]


def test_pasted_json_of_any_shape_makes_a_draft() -> None:
    draft = draft_from_definition({"name": 5, "trigger": "x", "steps": [{"type": "teleport"}, "nonsense"]})
    assert (draft.name, draft.trigger_type, [s.type for s in draft.steps]) == ("5", "manual", ["teleport", ""])


def test_human_durations_become_iso_8601() -> None:
    assert iso_duration("3 days") == "P3D"
    assert iso_duration("4h") == "PT4H"
    assert iso_duration("1 day and 12 hours") == "P1DT12H"
    assert iso_duration("2 weeks, 30 minutes") == "P2WT30M"
    assert iso_duration(" p3d ") == "p3d"
    assert iso_duration("soon") == "soon"


def test_durations_are_described_in_words() -> None:
    assert describe_duration("P3D") == "3 days"
    assert describe_duration("P1DT12H") == "1 day 12 hours"
    assert describe_duration("pt5s") == "5 seconds"
    assert describe_duration("P1W") == "1 week"
    assert describe_duration("3 dayz") == ""


def test_add_step_appends_the_chosen_kind() -> None:
    draft = add_step(SequenceDraft(), "wait")
    assert [(s.type, s.duration) for s in draft.steps] == [("wait", "P2D")]
    assert add_step(draft, "bogus").steps[-1].type == "email"


def _branching() -> SequenceDraft:
    return SequenceDraft(
        steps=[
            StepDraft(type="email", subject="first"),
            StepDraft(type="branch", condition="clicked_step", cond_step="0", then="2", otherwise="3"),
            StepDraft(type="email", subject="clicked"),
            StepDraft(type="exit"),
        ]
    )


def test_moving_a_step_keeps_branches_pointing_at_the_same_steps() -> None:
    moved = move_step(_branching(), 2, -1)
    assert [s.type for s in moved.steps] == ["email", "email", "branch", "exit"]
    branch = moved.steps[2]
    assert (branch.cond_step, branch.then, branch.otherwise) == ("0", "1", "3")
    assert moved.steps[1].subject == "clicked"


def test_moving_past_either_end_changes_nothing() -> None:
    draft = _branching()
    assert move_step(draft, 0, -1) == draft
    assert move_step(draft, 3, 1) == draft


def test_removing_a_step_renumbers_branches_and_blanks_targets_to_it() -> None:
    removed = remove_step(_branching(), 2)
    branch = removed.steps[1]
    assert [s.type for s in removed.steps] == ["email", "branch", "exit"]
    assert (branch.cond_step, branch.then, branch.otherwise) == ("0", "", "2")


def test_validation_errors_land_on_their_fields() -> None:
    detail = [
        {"loc": ["body", "steps", 2, "html"], "msg": "line 1: unexpected end of template"},
        {"loc": ["steps", 1, "wait", "duration"], "msg": "Value error, 'x' is not an ISO-8601 duration"},
        {"loc": ["steps", 3, "branch", "if"], "msg": "Value error, give exactly one of: ..."},
        {"loc": ["steps", 3, "branch", "else"], "msg": "Input should be a valid integer"},
        {"loc": ["steps", 4], "msg": "Input tag 'teleport' found using 'type' does not match any of the expected tags"},
        {"loc": ["body"], "msg": "Value error, step 3: a branch cannot point at itself"},
        {"loc": [], "msg": "Value error, a sequence needs at least one email step"},
        {"loc": ["trigger"], "msg": "Value error, a form_kind trigger needs 'kind'"},
        {"loc": ["send_window"], "msg": "Value error, end must be after start"},
        {"loc": ["send_window", "timezone"], "msg": "not an IANA time zone"},
        {"loc": ["exit_when"], "msg": "unknown goal"},
        {"loc": ["name"], "msg": "String should have at least 1 character"},
    ]
    assert field_errors(detail) == {
        "steps-2-html": ["line 1: unexpected end of template"],
        "steps-1-duration": ["'x' is not an ISO-8601 duration"],
        "steps-3-condition": ["give exactly one of: ..."],
        "steps-3-else": ["Input should be a valid integer"],
        "steps-4": ["Input tag 'teleport' found using 'type' does not match any of the expected tags"],
        "steps-3": ["a branch cannot point at itself"],
        "": ["a sequence needs at least one email step"],
        "trigger_kind": ["a form_kind trigger needs 'kind'"],
        "window_end": ["end must be after start"],
        "window_timezone": ["not an IANA time zone"],
        "goals": ["unknown goal"],
        "name": ["String should have at least 1 character"],
    }

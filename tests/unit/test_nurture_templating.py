"""Marketer templates: sandboxed, autoescaped, checked on save with line numbers."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from app.nurture.templating import check_template, render

LEAD = {"lead": {"first_name": "Ana", "company": "<b>Acme</b>"}}


def test_lead_fields_are_rendered_and_escaped_in_html_only() -> None:
    assert render("<p>Hi {{ lead.first_name }} at {{ lead.company }}</p>", LEAD, html=True) == (
        "<p>Hi Ana at &lt;b&gt;Acme&lt;/b&gt;</p>"
    )
    assert render("Hi {{ lead.company }}", LEAD, html=False) == "Hi <b>Acme</b>"


def test_safe_filters_work() -> None:
    assert render("{{ lead.first_name | upper }} {{ lead.job_title | default('there') }}", LEAD, html=False) == (
        "ANA there"
    )


def test_syntax_errors_are_reported_with_their_line() -> None:
    problem = check_template("Hi\n{{ lead.first_name }\nbye", html=True)
    assert problem is not None
    assert problem.line == 2
    assert problem.message.startswith("line 2:")


def test_unknown_variables_are_refused_on_save() -> None:
    problem = check_template("Hi {{ customer.name }}", html=False)
    assert problem is not None
    assert "unknown variable" in problem.message


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lead.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lead.update({'x': 1}) }}",
    ],
)
def test_reaching_python_internals_is_refused_on_save(payload: str) -> None:
    problem = check_template(payload, html=True)
    assert problem is not None


def test_reaching_python_internals_at_send_time_raises_instead_of_leaking() -> None:
    with pytest.raises(SecurityError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", LEAD, html=True)


def test_a_good_template_passes() -> None:
    assert check_template("<p>Hi {{ lead.first_name }}, {{ sender.address }}</p>", html=True) is None

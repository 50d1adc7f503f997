"""Marketer-authored email templates: Jinja2's sandbox, checked at save time, rendered per lead."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Autoescape in HTML bodies; subjects and text parts are plain text.
_html = ImmutableSandboxedEnvironment(autoescape=True)
_text = ImmutableSandboxedEnvironment(autoescape=False)
_strict_html = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_strict_text = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)

SAMPLE_LEAD = {
    "email": "ana.lima@example.com",
    "first_name": "Ana",
    "last_name": "Lima",
    "company": "Acme",
    "job_title": "VP Marketing",
    "country": "PT",
    "phone": "",
    "funnel_stage": "mofu",
    "lifecycle_stage": "lead",
    "custom": {},
}


@dataclass(frozen=True)
class TemplateProblem:
    message: str
    line: int | None


def check_template(source: str, *, html: bool) -> TemplateProblem | None:
    """A syntax error (with its line), or a forbidden/unknown reference caught on a sample lead."""
    env = _strict_html if html else _strict_text
    try:
        template = env.from_string(source)
    except TemplateSyntaxError as exc:
        return TemplateProblem(f"line {exc.lineno}: {exc.message}", exc.lineno)
    try:
        template.render(lead=SAMPLE_LEAD, sender={"name": "Sender", "address": "1 Example St"})
    except SecurityError as exc:
        return TemplateProblem(f"not allowed in templates: {exc}", None)
    except UndefinedError as exc:
        return TemplateProblem(f"unknown variable: {exc.message}", None)
    except Exception as exc:  # anything else a template can raise (division by zero, ...)
        return TemplateProblem(f"{type(exc).__name__}: {exc}", None)
    return None


def lead_context(lead: Any) -> dict[str, Any]:
    return {name: getattr(lead, name, None) or "" for name in SAMPLE_LEAD if name != "custom"} | {
        "custom": dict(getattr(lead, "custom", {}) or {})
    }


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    # Compiling is most of the cost of rendering; a step's template is the same for every lead.
    return (_html if html else _text).from_string(source)


def render(source: str, context: dict[str, Any], *, html: bool) -> str:
    """Render for one lead. Unknown fields render empty; unsafe access raises SecurityError."""
    return _compiled(source, html).render(**context)

"""Jinja2 for the service's own pages and transactional emails (trusted templates).

Marketer-authored email templates never come through here: they render in the sandbox
of app/nurture/templating.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATE_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
_emails = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
)


def render_email(name: str, **context: Any) -> tuple[str, str]:
    """Render `email/<name>.html` and `email/<name>.txt`; returns (html, text)."""
    html_body = _emails.get_template(f"email/{name}.html").render(**context)
    text_body = _emails.get_template(f"email/{name}.txt").render(**context)
    return html_body, text_body

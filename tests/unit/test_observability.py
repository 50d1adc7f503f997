"""Route labels for logs and metrics are templates, never the raw values (tokens, ids)."""

from __future__ import annotations

from app.observability import _route_name


def test_path_parameters_are_put_back_as_names() -> None:
    scope = {"route": object(), "path": "/api/v1/leads/0197-abc", "path_params": {"lead_id": "0197-abc"}}
    assert _route_name(scope) == "/api/v1/leads/{lead_id}"


def test_tokens_never_reach_a_label() -> None:
    scope = {"route": object(), "path": "/u/eyJsIjoi.secret", "path_params": {"token": "eyJsIjoi.secret"}}
    assert _route_name(scope) == "/u/{token}"


def test_unmatched_paths_are_not_echoed() -> None:
    assert _route_name({"path": "/wp-admin/ana@example.com"}) == "unmatched"

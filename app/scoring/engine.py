"""The rule engine: facts in, points out, with the rule that gave each. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.scoring.model import Condition, EngagementRule, IntentSignal, ScoringModelConfig

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "tutanota.com",
        "fastmail.com",
        "mail.ru",
        "libero.it",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "t-online.de",
        "btinternet.com",
        "comcast.net",
    }
)


@dataclass(frozen=True)
class RulePoints:
    rule_id: str
    description: str
    points: float


def lead_facts(lead: Any) -> dict[str, Any]:
    """What fit rules can look at, from a lead row (or anything with the same attributes)."""
    email = str(getattr(lead, "email", "") or "")
    facts: dict[str, Any] = {
        name: getattr(lead, name, None)
        for name in (
            "job_title",
            "company",
            "country",
            "company_size",
            "first_name",
            "last_name",
            "phone",
            "timezone",
            "lifecycle_stage",
            "funnel_stage",
        )
    }
    facts["email"] = email
    facts["email_domain"] = email.rsplit("@", 1)[-1] if "@" in email else ""
    for key, value in (getattr(lead, "custom", None) or {}).items():
        facts[f"custom.{key}"] = value
    return facts


def event_facts(event_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {"type": event_type, "form_kind": properties.get("form_kind")}
    for key, value in properties.items():
        facts[f"properties.{key}"] = value
    return facts


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def matches(condition: Condition, facts: dict[str, Any]) -> bool:
    value = facts.get(condition.field)
    expected = condition.value
    match condition.op:
        case "equals":
            return _text(value) == _text(expected)
        case "not_equals":
            return _text(value) != _text(expected)
        case "contains":
            return _text(expected) in _text(value)
        case "contains_any":
            return any(_text(item) in _text(value) for item in expected) if value else False
        case "not_contains_any":
            return not any(_text(item) in _text(value) for item in expected)
        case "in":
            return _text(value) in {_text(item) for item in expected}
        case "gte" | "lte":
            number = _number(value)
            if number is None:
                return False
            limit = float(expected)
            return number >= limit if condition.op == "gte" else number <= limit
        case "is_free_mail":
            if not value:
                return False
            return (_text(value) in FREE_MAIL_DOMAINS) == bool(expected)
        case "exists":
            return value not in (None, "") if expected in (None, True) else value in (None, "")
    return False


def all_match(conditions: list[Condition], facts: dict[str, Any]) -> bool:
    return all(matches(condition, facts) for condition in conditions)


def engagement_rules_for(
    model: ScoringModelConfig, event_type: str, properties: dict[str, Any]
) -> list[EngagementRule]:
    facts = event_facts(event_type, properties)
    return [rule for rule in model.engagement_rules if rule.event == event_type and all_match(rule.when, facts)]


def fit_breakdown(model: ScoringModelConfig, facts: dict[str, Any]) -> list[RulePoints]:
    return [
        RulePoints(rule.id, rule.description or rule.id, rule.points)
        for rule in model.fit_rules
        if all_match(rule.when, facts)
    ]


def fit_score(model: ScoringModelConfig, facts: dict[str, Any]) -> float:
    return sum(item.points for item in fit_breakdown(model, facts))


def intent_signal_for(model: ScoringModelConfig, event_type: str, properties: dict[str, Any]) -> IntentSignal | None:
    """The strongest intent signal this event carries, if any."""
    facts = event_facts(event_type, properties)
    found = [s for s in model.intent_signals if s.event == event_type and all_match(s.when, facts)]
    if not found:
        return None
    return max(found, key=lambda s: (STAGE_RANK[s.stage], s.hand_raise))


def capped(rule: EngagementRule, points: float, earned_today: float) -> float:
    """Points still allowed under the rule's daily cap (positive caps only limit gains)."""
    cap = rule.cap_per_day
    if cap is None or points <= 0:
        return points
    return max(0.0, min(points, cap - earned_today))


STAGE_RANK = {"tofu": 0, "mofu": 1, "bofu": 2}

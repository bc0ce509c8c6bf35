"""The short, genuine profile: values, what you can help with, what you look for."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app

from ..extensions import db
from ..models import User
from .errors import RelbuildError

MAX_VALUES = 3
MAX_VALUE_LENGTH = 40
SUGGESTED_VALUES = (
    "Curiosity", "Honesty", "Kindness", "Craft", "Learning", "Fairness",
    "Impact", "Teamwork", "Independence", "Creativity", "Balance", "Courage",
)


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """All IANA zone names a person can pick, sorted."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def valid_timezone(name: str | None) -> str:
    """Return name when it is a known IANA zone, otherwise 'UTC'."""
    name = (name or "").strip()
    return name if name in timezone_names() else "UTC"


def parse_values(raw: str) -> list[str]:
    """Split 'Curiosity, craft ,kindness' into up to three distinct values, keeping their spelling."""
    values: list[str] = []
    for part in (raw or "").split(","):
        value = " ".join(part.split())
        if not value:
            continue
        if len(value) > MAX_VALUE_LENGTH:
            raise RelbuildError("value_too_long", f"Keep each value under {MAX_VALUE_LENGTH} characters.", "values")
        if value.casefold() not in {v.casefold() for v in values}:
            values.append(value)
    if len(values) > MAX_VALUES:
        raise RelbuildError("too_many_values", f"Pick the {MAX_VALUES} values that matter most to you.", "values")
    return values


def update_profile(user: User, *, name: str, headline: str, values: str, can_help_with: str,
                   looking_for: str, timezone: str, share_email: bool) -> User:
    """Save the profile fields after checking them."""
    name = " ".join((name or "").split())
    if not name:
        raise RelbuildError("name_required", "Tell people your name.", "name")
    tz = (timezone or "").strip()
    if tz and tz not in timezone_names():
        raise RelbuildError("bad_timezone", "Pick your time zone from the list.", "timezone")
    user.name = name
    user.headline = (headline or "").strip()
    user.values = parse_values(values)
    user.can_help_with = (can_help_with or "").strip()
    user.looking_for = (looking_for or "").strip()
    user.timezone = tz or "UTC"
    user.share_email = bool(share_email)
    db.session.commit()
    return user


def values_for_viewer(person: User, viewer: User | None) -> list[tuple[str, bool]]:
    """The person's values as (value, shared with viewer), values both hold first."""
    mine = {v.casefold() for v in (viewer.values or [])} if viewer is not None else set()
    marked = [(v, v.casefold() in mine) for v in (person.values or [])]
    return sorted(marked, key=lambda pair: not pair[1])


def zone(user: User | None) -> ZoneInfo:
    """The user's time zone (UTC for visitors)."""
    return ZoneInfo(valid_timezone(user.timezone if user is not None else "UTC"))


def profile_url(person: User) -> str:
    """A person's page for those connected with them (in exports, calendar feeds, emails)."""
    return f"{current_app.config['BASE_URL']}/people/{person.public_id}"

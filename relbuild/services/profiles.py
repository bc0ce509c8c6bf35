"""The short, genuine profile: values, what you can help with, what you look for."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app

from ..extensions import db
from ..models import User
from .errors import RelbuildError
from ..i18n import gettext as _, lazy_gettext as _l

MAX_VALUES = 3
MAX_VALUE_LENGTH = 40
SUGGESTED_VALUES = (
    _l("Curiosity"), _l("Honesty"), _l("Kindness"), _l("Craft"), _l("Learning"), _l("Fairness"),
    _l("Impact"), _l("Teamwork"), _l("Independence"), _l("Creativity"), _l("Balance"), _l("Courage"),
)


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """All IANA zone names a person can pick, sorted."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


@lru_cache(maxsize=1)
def _timezone_set() -> frozenset[str]:
    return frozenset(timezone_names())


def is_timezone(name: str) -> bool:
    """Whether name is one of timezone_names() (a set lookup: a follow-up pass asks for every email)."""
    return name in _timezone_set()


def valid_timezone(name: str | None) -> str:
    """Return name when it is a known IANA zone, otherwise 'UTC'."""
    name = (name or "").strip()
    return name if is_timezone(name) else "UTC"


def parse_values(raw: str) -> list[str]:
    """Split 'Curiosity, craft ,kindness' into up to three distinct values, keeping their spelling."""
    values: list[str] = []
    for part in (raw or "").split(","):
        value = " ".join(part.split())
        if not value:
            continue
        if len(value) > MAX_VALUE_LENGTH:
            raise RelbuildError("value_too_long", _("Keep each value under %(max_value_length)s characters.", max_value_length=MAX_VALUE_LENGTH), "values")
        if value.casefold() not in {v.casefold() for v in values}:
            values.append(value)
    if len(values) > MAX_VALUES:
        raise RelbuildError("too_many_values", _("Pick the %(max_values)s values that matter most to you.", max_values=MAX_VALUES), "values")
    return values


def update_profile(user: User, *, name: str, headline: str, values: str, can_help_with: str,
                   looking_for: str, timezone: str, share_email: bool,
                   language: str | None = None) -> User:
    """Save the profile fields after checking them."""
    name = " ".join((name or "").split())
    if not name:
        raise RelbuildError("name_required", _("Tell people your name."), "name")
    tz = (timezone or "").strip()
    if tz and not is_timezone(tz):
        raise RelbuildError("bad_timezone", _("Pick your time zone from the list."), "timezone")
    user.name = name
    user.headline = (headline or "").strip()
    user.values = parse_values(values)
    user.can_help_with = (can_help_with or "").strip()
    user.looking_for = (looking_for or "").strip()
    user.timezone = tz or "UTC"
    user.share_email = bool(share_email)
    if language:
        from ..i18n import valid_language

        if valid_language(language) != language:
            raise RelbuildError("bad_language", _("Pick a language from the list."), "language")
        user.language = language
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

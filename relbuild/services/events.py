"""Events: organizers, joining, and which event a note belongs to."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..extensions import db
from ..models import Badge, Event, EventAttendee, EventOrganizer, User
from .accounts import normalize_email
from .badges import code_problem, new_code, normalize_short_code
from .collation import sorted_by_name
from ..i18n import format_moment, gettext as _
from .errors import RelbuildError
from .invitations import ORGANIZER, invite
from .profiles import is_timezone, zone

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
FIRST_YEAR, LAST_YEAR = 2000, 2199
MAX_DAYS = 14
TAG_GRACE = timedelta(hours=1)  # notes written just before or after still belong to the event


def _parse_local(value: str, tz: str, field: str) -> datetime:
    try:
        local = datetime.strptime((value or "").strip(), LOCAL_FORMAT)
    except ValueError:
        raise RelbuildError("bad_time", _("Pick a date and time, like 2026-03-14T10:00."), field)
    # Year 1 or 9999 would be stored, then overflow when shown in a time zone a few hours away.
    if not FIRST_YEAR <= local.year <= LAST_YEAR:
        raise RelbuildError("bad_year", _("Pick a date between %(first_year)s and %(last_year)s.", first_year=FIRST_YEAR, last_year=LAST_YEAR), field)
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc).replace(tzinfo=None)


# Web addresses, email addresses and domain names in an event's name or venue: they go into invitation
# emails, where a link or a domain could pass for a message from Relbuild itself.
_TLDS = ("com|net|org|info|biz|io|co|me|app|dev|xyz|top|site|online|link|click|live|shop|store|club|tk|ml|ga|cf|"
         "gq|ru|cn|su|ly|gl|to|cc|ws|fr|de|uk|us|ca|eu|in|au|nl|it|es|ch|be|se|no|pl|br|jp|kr|ai|gg|sh|page|"
         "cloud|email|support|help|security|login|account|ms|win|bid|cam|icu|pw|rest|work|zip|mov|lol|fyi")
LINK_LIKE = re.compile(
    r"[a-z][a-z0-9+.-]*://|\b(https?|ftp|mailto|javascript|data|tel|sms|file):"  # https://…, mailto:…
    r"|www\.|\S@\S"                            # www.…, an email address
    r"|\b\d{1,3}(\.\d{1,3}){3}\b"                # an IP address
    rf"|[a-z0-9-]+\.({_TLDS})\b(?!\.[a-z])",      # a domain name (relbuild-security.com)
    re.IGNORECASE)


def _refuse_links(text: str, field: str, what: str) -> None:
    # NFKC folds look-alikes (full-width letters and dots, ideographic full stops) into the ASCII they render as.
    folded = unicodedata.normalize("NFKC", text).replace("\u3002", ".").replace("\uff61", ".")
    if LINK_LIKE.search(folded):
        raise RelbuildError("link_in_text", _("The %(what)s cannot contain a web address, an email address or a domain name: it goes into invitation emails.", what=what), field)


def _check(name: str, venue: str, starts_at: str, ends_at: str, tz: str) -> dict:
    name = " ".join((name or "").split())
    if not name:
        raise RelbuildError("name_required", _("Give the event a name."), "name")
    if len(name) > 120:
        raise RelbuildError("name_too_long", _("Keep the name under 120 characters."), "name")
    _refuse_links(name, "name", "event name")
    venue = " ".join((venue or "").split())[:200]
    _refuse_links(venue, "venue", "venue")
    tz = (tz or "").strip()
    if not is_timezone(tz):
        raise RelbuildError("bad_timezone", _("Pick the event's time zone from the list."), "timezone")
    start = _parse_local(starts_at, tz, "starts_at")
    end = _parse_local(ends_at, tz, "ends_at")
    if end <= start:
        raise RelbuildError("ends_before_start", _("The end must be after the start."), "ends_at")
    if end - start > timedelta(days=MAX_DAYS):
        raise RelbuildError("too_long", _("An event can last at most %(max_days)s days.", max_days=MAX_DAYS), "ends_at")
    return {"name": name, "venue": venue, "starts_at": start, "ends_at": end, "timezone": tz}


def _language(code: str | None, default: str) -> str:
    from ..i18n import valid_language

    if code and valid_language(code) != code:
        raise RelbuildError("bad_language", _("Pick a language from the list."), "language")
    return code or default


def create_event(organizer: User, *, name: str, venue: str, starts_at: str, ends_at: str, timezone: str,
                 description: str = "", language: str | None = None) -> Event:
    """Create an event; its creator is its first organizer."""
    fields = _check(name, venue, starts_at, ends_at, timezone)
    for _attempt in range(5):
        code = new_code()
        if db.session.scalar(sa.select(Event.id).where(Event.join_code == code)) is None:
            break
    event = Event(join_code=code, description=(description or "").strip()[:2000],
                  language=_language(language, organizer.language), **fields)
    db.session.add(event)
    db.session.flush()
    db.session.add(EventOrganizer(event_id=event.id, user_id=organizer.id))
    db.session.commit()
    return event


def update_event(event: Event, *, name: str, venue: str, starts_at: str, ends_at: str, timezone: str,
                 description: str = "", language: str | None = None) -> Event:
    for key, value in _check(name, venue, starts_at, ends_at, timezone).items():
        setattr(event, key, value)
    event.language = _language(language, event.language)
    event.description = (description or "").strip()[:2000]
    db.session.commit()
    return event


def is_organizer(user: User | None, event: Event) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return db.session.get(EventOrganizer, (event.id, user.id)) is not None


def event_for(user: User, event_id: int, *, organizer: bool = False) -> Event:
    """An event the user may see: attendees and organizers; organizer pages need `organizer=True`."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise RelbuildError("event_unknown", _("There is no such event."), status=404)
    if is_organizer(user, event):
        return event
    joined = has_joined(user, event)
    if organizer and joined:
        raise RelbuildError("not_organizer", _("Only the event's organizers can open this page."), status=403)
    if organizer or not joined:  # to a stranger, an event they never joined does not exist
        raise RelbuildError("event_unknown", _("There is no such event."), status=404)
    return event


def event_by_code(raw: str) -> Event:
    code = normalize_short_code(raw)
    problem = code_problem(code, "event")
    if problem:
        raise RelbuildError("bad_code", problem, "code", status=404)
    event = db.session.scalar(sa.select(Event).where(Event.join_code == code))
    if event is None:
        raise RelbuildError("event_unknown", _("No event has this code. Check it against the poster."), "code",
                            status=404)
    return event


def invite_organizer(event: Event, inviter: User, email: str) -> str:
    """Invite an address to organize the event with the inviter; they join when they accept."""
    email = normalize_email(email)
    invite(event, inviter, [{"email": email}], role=ORGANIZER)
    return email


def organizers(event: Event) -> list[User]:
    return sorted_by_name(db.session.scalars(sa.select(User).join(EventOrganizer, EventOrganizer.user_id == User.id)
                                             .where(EventOrganizer.event_id == event.id).order_by(User.id)),
                          lambda user: user.name)


def has_joined(user: User, event: Event) -> bool:
    return db.session.get(EventAttendee, (event.id, user.id)) is not None


def join_event(user: User, event: Event) -> bool:
    """Join an event; True when newly joined (joining twice changes nothing)."""
    if has_joined(user, event):
        return False
    db.session.add(EventAttendee(event_id=event.id, user_id=user.id))
    db.session.commit()
    return True


def my_events(user: User) -> list[tuple[Event, bool, bool]]:
    """(event, joined, organizing) for every event the user is part of, newest first."""
    joined = set(db.session.scalars(sa.select(EventAttendee.event_id).where(EventAttendee.user_id == user.id)))
    organizing = set(db.session.scalars(sa.select(EventOrganizer.event_id).where(EventOrganizer.user_id == user.id)))
    ids = joined | organizing
    if not ids:
        return []
    events = db.session.scalars(sa.select(Event).where(Event.id.in_(ids)).order_by(Event.starts_at.desc()))
    return [(event, event.id in joined, event.id in organizing) for event in events]


# Built once: it runs on every new note (the write path).
_EVENT_AT = (sa.select(Event.id, Event.ends_at).join(EventAttendee, EventAttendee.event_id == Event.id)
             .where(EventAttendee.user_id == sa.bindparam("author"), Event.starts_at <= sa.bindparam("starts_by"),
                    Event.ends_at >= sa.bindparam("ends_after"))
             .order_by(Event.starts_at.desc()).limit(1))


def event_at(connection: sa.Connection, author_id: int, met_at: datetime) -> tuple[int, datetime] | None:
    """The event the author joined that was on when they met someone (the latest to start): (id, end), if any."""
    row = connection.execute(_EVENT_AT, {"author": author_id, "starts_by": met_at + TAG_GRACE,
                                         "ends_after": met_at - TAG_GRACE}).first()
    return tuple(row) if row else None


def local(event: Event, moment: datetime, viewer: User | None = None) -> datetime:
    """A stored UTC time in the viewer's zone (the event's own zone for visitors)."""
    target = zone(viewer) if viewer is not None else ZoneInfo(event.timezone)
    return moment.replace(tzinfo=timezone.utc).astimezone(target)


def local_input(event: Event, moment: datetime) -> str:
    """A stored time as the event-zone value of a datetime-local field."""
    return local(event, moment).strftime(LOCAL_FORMAT)


def event_when(event: Event, viewer: User | None = None) -> str:
    """'Sat 14 Mar 2026, 10:00–16:00 (Europe/Berlin)' in the viewer's zone (the event's for visitors)."""
    start, end = local(event, event.starts_at, viewer), local(event, event.ends_at, viewer)
    until = format_moment(end, "time") if start.date() == end.date() else format_moment(end, "weekday_date_time")
    return _("%(start)s–%(end)s (%(zone)s)", start=format_moment(start, "weekday_date_time"), end=until,
             zone=start.tzinfo.key)


def attendee_badges(event: Event, public_ids: set[str] | None = None) -> list[tuple[str, str, str, str]]:
    """(name, headline, badge token, short code) of the attendees' current badges, in collation order of names."""
    stmt = (sa.select(User.name, User.headline, Badge.token, Badge.short_code)
            .join(EventAttendee, EventAttendee.user_id == User.id).join(Badge, Badge.user_id == User.id)
            .where(EventAttendee.event_id == event.id, Badge.replaced_at.is_(None)).order_by(User.id))
    if public_ids:
        stmt = stmt.where(User.public_id.in_(public_ids))
    return sorted_by_name((tuple(row) for row in db.session.execute(stmt)), lambda row: row[0])

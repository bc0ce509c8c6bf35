"""A private calendar feed (a secret .ics URL) of my upcoming follow-ups."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from icalendar import Calendar, Event as CalendarEvent

from ..extensions import db
from ..mail import mail_domain
from ..models import Note, Prompt, User, utcnow
from .errors import RelbuildError
from .followups import DIGEST, OFFER_CHECK, RECONNECT, REMINDER
from .links import opaque_id
from .profiles import profile_url
from ..i18n import gettext as _, in_language

FEED_KINDS = (DIGEST, OFFER_CHECK, RECONNECT, REMINDER)
FEED_PAST_DAYS = 7  # a follow-up due last week is still worth seeing


def enable_feed(user: User) -> str:
    """Give the user a new secret feed URL token; any earlier URL stops working."""
    user.calendar_token = secrets.token_urlsafe(32)
    db.session.commit()
    return user.calendar_token


def disable_feed(user: User) -> None:
    user.calendar_token = None
    db.session.commit()


def user_for_feed(token: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.calendar_token == token)) if len(token) <= 64 else None
    if user is None:
        raise RelbuildError("feed_unknown", _("This calendar link was turned off or replaced."), status=404)
    return user


def _summary(kind: str, person: User, note: Note) -> str:
    if kind == OFFER_CHECK and note.offer:
        return _("Did you do it? %(offer)s (%(name)s)", offer=note.offer[:60], name=person.name)
    if kind == DIGEST:
        return _("Read your note about %(name)s", name=person.name)
    return _("Follow up with %(name)s", name=person.name)


def feed_ics(user: User, now: datetime | None = None) -> bytes:
    """The user's open follow-ups from the past week on, as an iCalendar file in the user's language."""
    with in_language(user.language):  # a calendar app asks, not the person: their saved language decides
        return _feed_ics(user, now)


def _feed_ics(user: User, now: datetime | None = None) -> bytes:
    now = now or utcnow()
    base = current_app.config["BASE_URL"]
    calendar = Calendar()
    calendar.add("prodid", "-//Relbuild//Follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("Relbuild follow-ups"))
    rows = db.session.execute(
        sa.select(Prompt, Note, User).join(Note, Note.id == Prompt.note_id).join(User, User.id == Note.subject_id)
        .where(Prompt.user_id == user.id, Prompt.kind.in_(FEED_KINDS), Prompt.action.is_(None),
               Prompt.status.not_in(("cancelled", "skipped")), Prompt.due_at >= now - timedelta(days=FEED_PAST_DAYS))
        .order_by(Prompt.due_at).limit(500))
    for prompt, note, person in rows:
        item = CalendarEvent()
        item.add("uid", f"prompt-{opaque_id('prompt', prompt.id)}@{mail_domain()}")
        item.add("dtstamp", now.replace(tzinfo=timezone.utc))
        item.add("dtstart", prompt.due_at.replace(tzinfo=timezone.utc))
        item.add("duration", timedelta(minutes=15))
        item.add("summary", _summary(prompt.kind, person, note))
        text = note.body + (f"\n\nYou offered: {note.offer}" if note.offer else "")
        item.add("description", f"{text}\n\n{base}/followups")
        item.add("url", profile_url(person))
        calendar.add_component(item)
    return calendar.to_ical()

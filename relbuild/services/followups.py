"""Follow-up prompts: when each note comes back to its author, and what the author does about it.

Cadence, in the author's time zone at their prompt hour (09:00 unless they chose another):
a digest the morning after the day they met, an offer check ~7 days later while the offer is
open, a reconnect ~30 days later. Logging a follow-up restarts the cadence from that day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from ..extensions import db
from ..models import Note, Prompt, User, utcnow
from .errors import RelbuildError
from .profiles import zone
from ..i18n import gettext as _

DIGEST, OFFER_CHECK, RECONNECT, REMINDER = "digest", "offer_check", "reconnect", "reminder"
INVITATION, PASSWORD_RESET = "invitation", "password_reset"
PROMPT_KINDS = (DIGEST, OFFER_CHECK, RECONNECT, REMINDER)  # notes coming back to their author
CONFIRM_EMAIL, EMAIL_CHANGED, SIGNUP_ATTEMPT = "confirm_email", "email_changed", "signup_attempt"
# Emails about the account itself: sent even with prompts off, and to addresses not yet confirmed.
ACCOUNT_KINDS = (INVITATION, PASSWORD_RESET, CONFIRM_EMAIL, EMAIL_CHANGED, SIGNUP_ATTEMPT)
OFFER_CHECK_DAYS, RECONNECT_DAYS, SNOOZE_DAYS = 7, 30, 7
OPEN = ("pending", "sending")


def local_date(user: User, moment: datetime) -> date:
    """The calendar day a stored UTC time falls on for this user."""
    return moment.replace(tzinfo=timezone.utc).astimezone(zone(user)).date()


def at_prompt_hour(user: User, day: date) -> datetime:
    """The user's prompt hour on a local day, as stored (naive UTC)."""
    local = datetime.combine(day, time(user.prompt_hour), tzinfo=zone(user))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def queue_account_email(kind: str, user: User | None = None, *, address: str | None = None,
                        invitation_id: int | None = None, once_within: timedelta | None = None) -> bool:
    """Put an account email in the outbox (the worker sends it); the caller commits.

    `once_within`: send nothing when the same kind already went (or waits) for this user and
    address within that time, so a form submitted again and again cannot flood an inbox.
    """
    now = utcnow()
    if once_within is not None:
        recent = sa.select(Prompt.id).where(Prompt.kind == kind, Prompt.created_at > now - once_within,
                                            Prompt.status.in_(("pending", "sending", "sent")))
        recent = recent.where(Prompt.user_id == user.id) if user is not None else recent
        recent = recent.where(Prompt.address == address) if address else recent.where(Prompt.address.is_(None))
        if db.session.scalar(recent.limit(1)) is not None:
            return False
    db.session.add(Prompt(user_id=user.id if user is not None else None, kind=kind, address=address,
                          invitation_id=invitation_id, due_at=now, next_attempt_at=now))
    return True


def _add(user: User, note: Note, kind: str, due_at: datetime, group_key: str | None = None) -> Prompt:
    prompt = Prompt(user_id=user.id, note_id=note.id, kind=kind, due_at=due_at, next_attempt_at=due_at,
                    group_key=group_key)
    db.session.add(prompt)
    return prompt


def _cancel(note: Note, *kinds: str) -> None:
    db.session.execute(sa.update(Prompt).where(Prompt.note_id == note.id, Prompt.kind.in_(kinds),
                                               Prompt.status == "pending").values(status="cancelled"))


def new_note_prompts(author: User, note_id: str, met_at: datetime,
                     event: tuple[int, datetime] | None = None) -> list[dict]:
    """The prompt rows a new note starts with: its digest and its reconnect (`event`: id and end, if tagged)."""
    met_day = local_date(author, met_at)
    if event is not None:  # notes from an event come back together, the morning after it ends
        event_id, ends_at = event
        digest = (at_prompt_hour(author, local_date(author, ends_at) + timedelta(days=1)),
                  f"digest:{author.id}:event:{event_id}")
    else:
        digest = (at_prompt_hour(author, met_day + timedelta(days=1)), f"digest:{author.id}:{met_day.isoformat()}")
    return [_row(author, note_id, DIGEST, *digest),
            _row(author, note_id, RECONNECT, at_prompt_hour(author, met_day + timedelta(days=RECONNECT_DAYS)))]


def offer_check_prompt(author: User, note_id: str, met_at: datetime, *, created: bool,
                       followed_up_at: datetime | None = None, now: datetime | None = None) -> dict:
    """The offer-check prompt row of a note whose offer is open.

    A week after meeting; an offer added later is checked a week after it was made, not in the past.
    """
    start = local_date(author, met_at) if created else max(local_date(author, followed_up_at or met_at),
                                                           local_date(author, now or utcnow()))
    return _row(author, note_id, OFFER_CHECK, at_prompt_hour(author, start + timedelta(days=OFFER_CHECK_DAYS)))


def _row(author: User, note_id: str, kind: str, due_at: datetime, group_key: str | None = None) -> dict:
    return {"user_id": author.id, "note_id": note_id, "kind": kind, "due_at": due_at, "next_attempt_at": due_at,
            "group_key": group_key}


# Cancels a note's waiting offer check (parameter: cancel_note_id).
CANCEL_OFFER_CHECK = (sa.update(Prompt.__table__).where(Prompt.note_id == sa.bindparam("cancel_note_id"),
                                                        Prompt.kind == OFFER_CHECK, Prompt.status == "pending")
                      .values(status="cancelled"))


def log_follow_up(note: Note, now: datetime | None = None) -> None:
    """The author followed up: the offer counts as kept and the cadence restarts from today."""
    now = now or utcnow()
    author = db.session.get(User, note.author_id)
    note.followed_up_at = now
    if note.offer and note.offer_done_at is None:
        note.offer_done_at = now
    _cancel(note, OFFER_CHECK, RECONNECT, REMINDER)
    db.session.execute(sa.update(Prompt).where(Prompt.note_id == note.id, Prompt.action.is_(None),
                                               Prompt.due_at <= now, Prompt.status != "cancelled")
                       .values(action="done", acted_at=now))
    _add(author, note, RECONNECT, at_prompt_hour(author, local_date(author, now) + timedelta(days=RECONNECT_DAYS)))
    db.session.commit()


def snooze(prompt: Prompt, now: datetime | None = None) -> Prompt:
    """Remind the author about this note again in a week."""
    now = now or utcnow()
    if prompt.action is None:
        prompt.action, prompt.acted_at = "snoozed", now
        author = db.session.get(User, prompt.user_id)
        later = at_prompt_hour(author, local_date(author, now) + timedelta(days=SNOOZE_DAYS))
        note = db.session.get(Note, prompt.note_id)
        _add(author, note, REMINDER, later)
        db.session.commit()
    return prompt


def mark_done(prompt: Prompt, now: datetime | None = None) -> Prompt:
    """'I followed up' from a prompt."""
    if prompt.action is None:
        log_follow_up(db.session.get(Note, prompt.note_id), now)
        db.session.refresh(prompt)
    return prompt


def prompt_by_id(prompt_id: int, owner: User | None = None) -> Prompt:
    """A prompt (only the owner's, when one is given: others' prompts do not exist for them)."""
    prompt = db.session.get(Prompt, prompt_id)
    if prompt is None or (owner is not None and prompt.user_id != owner.id):
        raise RelbuildError("prompt_unknown", _("That follow-up is not here any more."), status=404)
    return prompt


@dataclass(frozen=True)
class FollowupItem:
    prompt: Prompt
    note: Note
    person: User


def followups_for(user: User, now: datetime | None = None, upcoming_limit: int = 20) -> tuple[list, list]:
    """(due, upcoming) prompts for the in-app Follow-ups tab, each with its note and person."""
    now = now or utcnow()
    stmt = (sa.select(Prompt, Note, User).join(Note, Note.id == Prompt.note_id).join(User, User.id == Note.subject_id)
            .where(Prompt.user_id == user.id, Prompt.status != "cancelled", Prompt.action.is_(None)))
    # A prompt already emailed is due, whatever the clock says (a pass may have run with --now ahead).
    arrived = sa.or_(Prompt.due_at <= now, Prompt.status == "sent")
    due = db.session.execute(stmt.where(arrived).order_by(Prompt.due_at.desc()).limit(100)).all()
    upcoming = db.session.execute(stmt.where(sa.not_(arrived)).order_by(Prompt.due_at).limit(upcoming_limit)).all()
    return ([FollowupItem(*row) for row in due], [FollowupItem(*row) for row in upcoming])


def update_settings(user: User, *, email_prompts: bool, prompt_hour: int, channel: str | None = None) -> None:
    """Turn prompt emails on or off, choose email and/or notifications, move pending prompts to the chosen hour."""
    if not 0 <= prompt_hour <= 23:
        raise RelbuildError("bad_hour", _("Pick an hour between 0 and 23."), "prompt_hour")
    if channel is not None:
        from .push import set_channel

        set_channel(user, channel)
    user.email_prompts = bool(email_prompts)
    if prompt_hour != user.prompt_hour:
        user.prompt_hour = prompt_hour
        for prompt in db.session.scalars(sa.select(Prompt).where(Prompt.user_id == user.id,
                                                                 Prompt.status == "pending")):
            prompt.due_at = prompt.next_attempt_at = at_prompt_hour(user, local_date(user, prompt.due_at))
    db.session.commit()


def unsubscribe(user: User) -> None:
    """Stop prompt emails for this person (in-app prompts stay)."""
    user.email_prompts = False
    db.session.commit()

"""Invitations: an organizer's import or co-organizer request asks; the person says yes (or no).

Nobody becomes an attendee or organizer of an event until they accept, in the app or from the
email. Organizers see the same thing for every address they invite (nothing tells them whether
it has an account), and a declined invitation looks like one still waiting, so nobody has to
say no to an organizer's face, and is never invited to that event again.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..models import Event, EventAttendee, EventOrganizer, Invitation, User, utcnow
from .errors import RelbuildError
from .followups import INVITATION, queue_account_email
from .verification import is_confirmed, mark_confirmed
from ..i18n import gettext as _, number

ATTENDEE, ORGANIZER = "attendee", "organizer"
INVITE, INVITED, ATTENDING = "invite", "invited", "attending"  # what inviting an address would do
TOKEN_MAX_AGE = 60 * 24 * 3600
CHUNK = 500


def limits() -> tuple[int, int]:
    """(invitations an organizer may send in 24 hours, invitations one event may have)."""
    return current_app.config["INVITES_PER_ORGANIZER_DAY"], current_app.config["INVITES_PER_EVENT"]


def require_confirmed(organizer: User) -> None:
    """Only an organizer whose own address is confirmed may send invitations."""
    if not is_confirmed(organizer):
        raise RelbuildError("unconfirmed_organizer", _("Confirm your email address before you invite anyone: open the link we sent you, or ask for a new one on your account page."), status=403)


def invitations_left(organizer: User, event: Event, now: datetime | None = None) -> int:
    """How many more invitations this organizer may send for this event right now."""
    now = now or utcnow()
    per_day, per_event = limits()
    sent_today = db.session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(
        Invitation.invited_by == organizer.id, Invitation.created_at > now - timedelta(days=1)))
    for_event = db.session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(
        Invitation.event_id == event.id))
    return max(0, min(per_day - sent_today, per_event - for_event))


def _chunks(items: list) -> Iterable[list]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def plan(event: Event, emails: list[str], role: str = ATTENDEE) -> dict[str, str]:
    """What inviting each address would do: INVITE, INVITED (asked before, whatever the answer) or ATTENDING.

    ATTENDING only for people already in the event (whom its organizers see anyway), so the
    answer never tells whether an address has an account.
    """
    member = EventAttendee if role == ATTENDEE else EventOrganizer
    result = dict.fromkeys(emails, INVITE)
    for chunk in _chunks(list(result)):
        for email in db.session.scalars(sa.select(Invitation.email).where(
                Invitation.event_id == event.id, Invitation.role == role, Invitation.email.in_(chunk))):
            result[email] = INVITED
        for email in db.session.scalars(
                sa.select(User.email).join(member, member.user_id == User.id)
                .where(member.event_id == event.id, User.email.in_(chunk))):
            result[email] = ATTENDING
    return result


def invite(event: Event, organizer: User, people: list[dict], role: str = ATTENDEE,
           now: datetime | None = None) -> int:
    """Invite each person ({email, name, headline}) not invited or in the event yet; returns how many.

    All or nothing: when the invitations would pass the organizer's daily or the event's limit,
    none is made and RelbuildError says how many are left.
    """
    require_confirmed(organizer)
    now = now or utcnow()
    if db.engine.dialect.name == "postgresql":  # two imports confirmed at once wait for each other's count
        db.session.execute(sa.select(User.id).where(User.id == organizer.id).with_for_update())
    status = plan(event, [p["email"] for p in people], role)
    fresh = [p for p in people if status[p["email"]] == INVITE]
    left = invitations_left(organizer, event, now)
    if len(fresh) > left:
        per_day, per_event = limits()
        raise RelbuildError(
            "too_many_invitations",
            _("That is %(count)s invitations, and you can send %(left)s more now (at most %(per_day)s in 24 hours, and %(per_event)s for one event). Send the rest later, or ask another organizer.", count=number(len(fresh)), left=number(left), per_day=number(per_day), per_event=number(per_event)),
            status=429)
    invitations = [Invitation(event_id=event.id, email=person["email"], name=person.get("name", "")[:80],
                              headline=person.get("headline", "")[:120], role=role, invited_by=organizer.id,
                              created_at=now) for person in fresh]
    db.session.add_all(invitations)
    db.session.flush()
    for invitation in invitations:
        queue_account_email(INVITATION, address=invitation.email, invitation_id=invitation.id)
    db.session.commit()
    return len(fresh)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="invitation")


def invitation_token(invitation: Invitation) -> str:
    """The secret in the emailed link: whoever opens it has the invited address's inbox."""
    return _serializer().dumps({"i": invitation.id, "e": invitation.email})


def invitation_for_token(token: str) -> Invitation:
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except SignatureExpired:
        raise RelbuildError("invitation_expired", _("This invitation has expired. Ask the organizer to invite you again, or join with the event's code."), status=410)
    except BadSignature:
        raise RelbuildError("invitation_invalid", _("This invitation link is not valid."), status=404)
    invitation = db.session.get(Invitation, data.get("i")) if isinstance(data, dict) and \
        isinstance(data.get("i"), int) else None
    if invitation is None or invitation.email != data.get("e"):
        raise RelbuildError("invitation_gone", _("This invitation was withdrawn."), status=410)
    return invitation


def invitation_for(user: User, invitation_id: int) -> Invitation:
    """An invitation to the user's confirmed address, for answering it in the app."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or not is_confirmed(user) or invitation.email != user.email:
        raise RelbuildError("invitation_unknown", _("There is no such invitation."), status=404)
    return invitation


def waiting_for(user: User) -> list[Invitation]:
    """Invitations waiting for the user's answer (only once their address is confirmed as theirs)."""
    if not is_confirmed(user):
        return []
    return list(db.session.scalars(sa.select(Invitation).join(Event, Event.id == Invitation.event_id)
                                   .where(Invitation.email == user.email, Invitation.status == "pending")
                                   .order_by(Event.starts_at)))


def accept(invitation: Invitation, user: User, *, from_email: bool = False) -> None:
    """Say yes: the user joins the event as the invited role.

    `from_email`: accepted through the emailed link, which proves the invited address is theirs
    when it is their account's address.
    """
    if from_email and invitation.email == user.email:
        mark_confirmed(user)
    member = EventAttendee if invitation.role == ATTENDEE else EventOrganizer
    if db.session.get(member, (invitation.event_id, user.id)) is None:
        db.session.add(member(event_id=invitation.event_id, user_id=user.id))
    invitation.status, invitation.answered_at = "accepted", utcnow()
    db.session.commit()


def decline(invitation: Invitation) -> None:
    """Say no: nothing joins, and this event never invites the address again."""
    if invitation.status == "pending":
        invitation.status, invitation.answered_at = "declined", utcnow()
        db.session.commit()


def forget_address(email: str) -> None:
    """Remove every invitation to an address (its owner deleted their account); the caller commits."""
    db.session.execute(sa.delete(Invitation).where(Invitation.email == email))


def _outstanding(event: Event, role: str):
    return sa.and_(Invitation.event_id == event.id, Invitation.role == role, Invitation.status != "accepted")


def outstanding(event: Event, role: str = ORGANIZER) -> list[str]:
    """Addresses invited to the role that have not joined (declined ones look the same), for organizers."""
    return list(db.session.scalars(sa.select(Invitation.email).where(_outstanding(event, role))
                                   .order_by(Invitation.created_at.desc(), Invitation.email).limit(200)))


def outstanding_count(event: Event, role: str = ATTENDEE) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(_outstanding(event, role)))

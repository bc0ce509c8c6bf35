"""Database models. Invariants the database can hold live here as constraints.

All datetimes are stored as naive UTC.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    """Current time as naive UTC, the form stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_uuid() -> str:
    return str(uuid.uuid4())


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: uuid.uuid4().hex)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(80))
    headline: Mapped[str] = mapped_column(sa.String(120), default="")
    values: Mapped[list] = mapped_column(sa.JSON, default=list)
    can_help_with: Mapped[str] = mapped_column(sa.String(300), default="")
    looking_for: Mapped[str] = mapped_column(sa.String(300), default="")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    share_email: Mapped[bool] = mapped_column(default=False)
    # What the person reads: pages, emails, follow-ups ("en", "fr"; see relbuild/i18n.py).
    language: Mapped[str] = mapped_column(sa.String(8), default="en", server_default="en")
    # When the owner proved the address is theirs (a link sent to it); follow-up email waits for it.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    # An address asked for but not yet confirmed from its inbox; `email` stays in use until then.
    pending_email: Mapped[str | None] = mapped_column(sa.String(254), default=None)
    email_prompts: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    prompt_hour: Mapped[int] = mapped_column(default=9, server_default="9")
    # How follow-up prompts reach this person: "both" (email and push), "push" (push only) or "email" (email only).
    prompt_channel: Mapped[str] = mapped_column(sa.String(8), default="both", server_default="both")
    # The secret in the private calendar feed's URL; None when the feed is off.
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True, default=None)
    # The WebAuthn user handle of the account's passkeys (random, never the email); None until the first one.
    passkey_handle: Mapped[str | None] = mapped_column(sa.String(88), unique=True, index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A deleted account stays as an empty row so that notes others wrote about it keep their person.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    badges: Mapped[list["Badge"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    # Flask-Login: the id kept in the cookie is the server-side session id, not the user id,
    # so that logging out (deleting that row) really ends the session.
    session_id = None
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str | None:
        return self.session_id

    @property
    def current_badge(self) -> "Badge | None":
        return next((b for b in self.badges if b.replaced_at is None), None)


class Event(db.Model):
    """A fair or meetup. Times are stored in UTC; `timezone` is where it happens."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    venue: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(sa.String(64))
    join_code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    # The language of its printed poster and badge sheets (the organizer's own by default).
    language: Mapped[str] = mapped_column(sa.String(8), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventOrganizer(db.Model):
    __tablename__ = "event_organizers"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class EventAttendee(db.Model):
    __tablename__ = "event_attendees"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(db.Model):
    """An organizer's invitation to an address: nobody is an attendee or organizer until they accept.

    Declined invitations stay (and look pending to organizers) so the same address is not invited again.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "email", "role", name="uq_invitation_event_email_role"),
        sa.Index("ix_invitations_inviter_created", "invited_by", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    name: Mapped[str] = mapped_column(sa.String(80), default="")
    headline: Mapped[str] = mapped_column(sa.String(120), default="")
    role: Mapped[str] = mapped_column(sa.String(12), default="attendee")  # attendee | organizer
    invited_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), default=None)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending | accepted | declined
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)

    event: Mapped[Event] = relationship()
    inviter: Mapped["User | None"] = relationship()


class AttendeeImport(db.Model):
    """An uploaded attendee CSV, checked and shown before anything is written."""

    __tablename__ = "attendee_imports"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_uuid)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    uploaded_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    rows: Mapped[list] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    summary: Mapped[dict | None] = mapped_column(sa.JSON, default=None)


class LoginSession(db.Model):
    """One signed-in browser. Deleting the row signs that browser out.

    `id` is the secret the cookie carries; `public_id` names the session on the account page.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: uuid.uuid4().hex)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    device: Mapped[str] = mapped_column(sa.String(120), default="")
    # When this browser last proved it is the account's owner with a passkey (re-authentication for
    # sensitive changes, as re-entering the password does).
    reauth_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


class Badge(db.Model):
    """A personal QR badge. Replaced badges are kept so old links can say so."""

    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    short_code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="badges")


class Note(db.Model):
    """The one note an author keeps about one person."""

    __tablename__ = "notes"
    __table_args__ = (
        sa.UniqueConstraint("author_id", "subject_id", name="uq_note_author_subject"),
        sa.Index("ix_notes_author_met", "author_id", "met_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_uuid)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    offer: Mapped[str] = mapped_column(sa.Text, default="")
    met_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the text changes (services.notes), not on every UPDATE: logging a follow-up is no edit.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    followed_up_at: Mapped[datetime | None] = mapped_column(default=None)
    offer_done_at: Mapped[datetime | None] = mapped_column(default=None)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="SET NULL"), index=True,
                                                 default=None)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    subject: Mapped[User] = relationship(foreign_keys=[subject_id])
    event: Mapped[Event | None] = relationship()

    @property
    def edited(self) -> bool:
        """True once the text was changed after it was first saved (notes before 2026-12 had µs apart stamps)."""
        return self.updated_at is not None and (self.updated_at - self.created_at).total_seconds() >= 1


class NoteWrite(db.Model):
    """One write to a note, keyed by the id the client made (replays are recognised by it).

    When a write replaces earlier text, that text is kept here: the note's history.
    """

    __tablename__ = "note_writes"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    note_id: Mapped[str] = mapped_column(sa.ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    previous_body: Mapped[str | None] = mapped_column(sa.Text, default=None)
    previous_offer: Mapped[str | None] = mapped_column(sa.Text, default=None)


class Prompt(db.Model):
    """A follow-up prompt: the outbox row the worker turns into an email.

    `status` is the delivery state (pending → sending → sent | failed, or skipped / cancelled; a follow-up
    for an address not yet confirmed is `held` until it is);
    `action` is what the author did about it (done, snoozed). Digest rows of one author and one
    day share a `group_key` and go out as one email.
    """

    __tablename__ = "prompts"
    __table_args__ = (
        sa.Index("ix_prompts_claim", "status", "next_attempt_at"),
        sa.Index("ix_prompts_user_due", "user_id", "due_at"),
        # Every note write asks whether its note has a waiting offer check (and lookups by note use it too).
        sa.Index("ix_prompts_note_kind_status", "note_id", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for an invitation to an address that may have no account (it goes to `address`).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # Where the email goes when it is not the user's current address (a new or an old address, an invitee).
    address: Mapped[str | None] = mapped_column(sa.String(254), default=None)
    invitation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invitations.id", ondelete="CASCADE"),
                                                      index=True, default=None)
    note_id: Mapped[str | None] = mapped_column(sa.ForeignKey("notes.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), default=None)
    kind: Mapped[str] = mapped_column(sa.String(16))
    group_key: Mapped[str | None] = mapped_column(sa.String(64), index=True, default=None)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(sa.String(500), default=None)
    action: Mapped[str | None] = mapped_column(sa.String(12), default=None)
    acted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()
    note: Mapped[Note | None] = relationship()
    event: Mapped["Event | None"] = relationship()
    invitation: Mapped[Invitation | None] = relationship()


class WorkerPass(db.Model):
    """The follow-up worker's last pass, for `followups status` and /healthz."""

    __tablename__ = "worker_passes"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    finished_at: Mapped[datetime]
    sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    retrying: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500), default=None)


class PasswordFailures(db.Model):
    """Wrong passwords per account address in the current window, shared by every web process."""

    __tablename__ = "password_failures"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)


class EventOutcome(db.Model):
    """An event's outcome figures as published once at a stage (a day, a week, a month after it ended)."""

    __tablename__ = "event_outcomes"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    figures: Mapped[dict] = mapped_column(sa.JSON)


class Passkey(db.Model):
    """A WebAuthn credential (a passkey) that signs its account in."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: uuid.uuid4().hex)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # base64url of the authenticator's credential id: one credential belongs to one account, ever.
    credential_id: Mapped[str] = mapped_column(sa.String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    transports: Mapped[list] = mapped_column(sa.JSON, default=list)
    name: Mapped[str] = mapped_column(sa.String(60))
    backed_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


class PasskeyChallenge(db.Model):
    """A WebAuthn challenge handed to a browser: used once (the row is deleted), and only for a few minutes."""

    __tablename__ = "passkey_challenges"

    challenge: Mapped[str] = mapped_column(sa.String(128), primary_key=True)  # base64url
    purpose: Mapped[str] = mapped_column(sa.String(16))  # signup | login | reauth | add
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), default=None)
    session_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    data: Mapped[dict | None] = mapped_column(sa.JSON, default=None)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PushSubscription(db.Model):
    """One device's Web Push subscription: one account, one sign-in session.

    It belongs to the session it was made in, so signing out (or the session ending any other way:
    expiry, "sign out everywhere", a new password, deleting the account) removes it with the session row.
    """

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(sa.String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(sa.String(128))
    auth: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    session: Mapped[LoginSession] = relationship()


class PushDelivery(db.Model):
    """One prompt pushed to one device: the push outbox, claimed and retried like prompt emails."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("prompt_id", "subscription_id", name="uq_push_delivery_prompt_subscription"),
        sa.Index("ix_push_deliveries_claim", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(sa.ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("push_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending → sending → sent | failed
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(sa.String(500), default=None)

    prompt: Mapped[Prompt] = relationship()
    subscription: Mapped[PushSubscription] = relationship()

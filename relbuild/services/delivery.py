"""The follow-up worker's pass: claim due prompts, send each email once, record what happened.

Exactly once in practice: a prompt is claimed by one UPDATE that only takes rows still pending
(PostgreSQL skips rows another worker has locked; SQLite runs one writer at a time), and is marked
sent once the SMTP server accepted it: every message answered by then is recorded in one UPDATE
whenever all SMTP_CONNECTIONS connections have a message out, and at the end of each batch. A
worker killed mid-pass leaves rows 'sending'; they are claimed again once their lease runs out. The
one remaining window: messages the server accepted that the dead worker had not recorded yet are
sent again. A message counts as out until it is recorded, so there are never more of them than
SMTP_CONNECTIONS: at most one a connection (tests/test_delivery_workers.py kills a worker then).

Messages go out over SMTP_CONNECTIONS connections at once (a provider takes tens of milliseconds a
message, so one connection would cap a pass at ~20 a second), capped at SMTP_MAX_PER_SECOND; this
thread renders them and records every outcome, the sending threads only talk SMTP.
"""
from __future__ import annotations

import queue
import secrets
import smtplib
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

import jinja2
import sqlalchemy as sa
from flask import current_app, request, url_for
from flask_babel import get_translations
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..mail import build_message, mail_domain, open_transport
from ..models import Invitation, Note, Prompt, User, WorkerPass, utcnow
from ..i18n import current_language, date_pattern, format_day, gettext as _, in_language
from .accounts import find_user_by_email, reset_token
from .events import event_when
from .followups import (ACCOUNT_KINDS, CONFIRM_EMAIL, DIGEST, EMAIL_CHANGED, INVITATION, PASSWORD_RESET,
                        SIGNUP_ATTEMPT, local_date)
from .invitations import invitation_token
from .links import action_token, opaque_id, unsubscribe_token
from .profiles import profile_url
from .push import PushResult, forget_expired, queue_pushes, send_due_pushes
from .verification import confirmation_token, is_confirmed

BATCH = 500
MAX_ATTEMPTS_REFUSED = 3  # a recipient refused this often is given up on
MAX_ATTEMPTS = 12  # temporary failures: about a day of backoff
WORKER_NAME = "followups"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass
class PassResult:
    sent: int = 0  # prompts
    emails: int = 0  # messages: a digest covers several prompts
    skipped: int = 0
    failed: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)
    pushes: PushResult = field(default_factory=PushResult)

    def line(self) -> str:
        line = (f"sent {_plural(self.sent, 'prompt')} in {_plural(self.emails, 'email')}, failed {self.failed}, "
                f"retrying {self.retrying}, skipped {self.skipped}")
        push = self.pushes
        if push.pushed or push.removed or push.retrying or push.failed:
            line += (f"; pushed {_plural(push.pushed, 'notification')}, {push.removed} devices gone, "
                     f"{push.retrying} retrying, {push.failed} failed")
        return line


def _claim(now: datetime, token: str, wall: datetime, lease: timedelta) -> list[Prompt]:
    claimable = sa.or_(
        sa.and_(Prompt.status == "pending", Prompt.next_attempt_at <= now),
        sa.and_(Prompt.status == "sending", Prompt.claimed_at < wall - lease),
    )
    picked = sa.select(Prompt.id).where(claimable).order_by(Prompt.next_attempt_at, Prompt.id).limit(BATCH)
    if db.engine.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    # A digest goes out as one email: take the rest of its group along with any member picked.
    groups = sa.select(Prompt.group_key).where(Prompt.id.in_(picked), Prompt.group_key.is_not(None))
    db.session.execute(
        sa.update(Prompt)
        .where(claimable, sa.or_(Prompt.id.in_(picked), Prompt.group_key.in_(groups)))
        .values(status="sending", claimed_at=wall, claim_token=token)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(db.session.scalars(
        sa.select(Prompt).where(Prompt.claim_token == token, Prompt.status == "sending")
        .options(joinedload(Prompt.user), joinedload(Prompt.event),
                 joinedload(Prompt.invitation).joinedload(Invitation.event),
                 joinedload(Prompt.invitation).joinedload(Invitation.inviter),
                 joinedload(Prompt.note).joinedload(Note.subject), joinedload(Prompt.note).joinedload(Note.event))
        .order_by(Prompt.group_key, Prompt.id)
    ).unique())


def _groups(prompts: list[Prompt]) -> list[list[Prompt]]:
    grouped: dict[str, list[Prompt]] = defaultdict(list)
    for prompt in prompts:
        grouped[prompt.group_key or f"prompt:{prompt.id}"].append(prompt)
    return list(grouped.values())


def _set(prompts: list[Prompt], token: str, **values) -> None:
    # Core, not the ORM's bulk UPDATE: this runs once or more a message and the objects are not read again.
    db.session.connection().execute(
        sa.update(Prompt.__table__).where(Prompt.id.in_([p.id for p in prompts]), Prompt.claim_token == token)
        .values(**values)
    )
    db.session.commit()


_prompts = Prompt.__table__
# Built once: a pass marks messages sent every few messages, and a statement made anew each time cost as much
# to build and look up in SQLAlchemy's cache as to run.
_SENT = (sa.update(_prompts)
         .where(_prompts.c.id.in_(sa.bindparam("ids", expanding=True)), _prompts.c.claim_token == sa.bindparam("token"))
         .values(status="sent", sent_at=sa.bindparam("sent_at"), attempts=_prompts.c.attempts + 1, last_error=None))


def _mark_sent(prompts: list[Prompt], token: str) -> None:
    db.session.connection().execute(_SENT, {"ids": [p.id for p in prompts], "token": token, "sent_at": utcnow()})
    db.session.commit()


class _Catalog:
    """An email language's words: its catalog, and the app's templates with that catalog installed.

    Made once a language and kept. Flask-Babel's `gettext` finds the catalog again through the request
    context on every call (three lookups and a locale spelled out each time), and so did every `_()` and
    `{% trans %}` of the templates: most of a follow-up pass's rendering time, for the same few words.
    """

    def __init__(self, language: str):
        app = current_app.jinja_env
        self.language = language
        self.translations = get_translations()
        self.templates = jinja2.Environment(loader=app.loader, autoescape=app.autoescape,
                                            extensions=list(app.extensions), auto_reload=app.auto_reload,
                                            **current_app.jinja_options)
        self.templates.filters.update(app.filters)
        self.templates.globals.update(app.globals)
        self.templates.policies.update(app.policies)
        self.templates.install_gettext_translations(self.translations, newstyle=True)
        self.day_pattern = date_pattern("day")

    def _(self, message: str, **variables) -> str:
        text = self.translations.gettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, num: int, **variables) -> str:
        return self.translations.ngettext(singular, plural, num) % {"num": num, **variables}

    def day(self, day) -> str:
        return format_day(day, self.day_pattern, self.language)

    def render(self, name: str, context: dict) -> str:
        """A template rendered with only what it is given: none of the page context processors (the signed-in
        user, CSRF, passkeys) that render_template would run for every message."""
        return self.templates.get_template(name).render(context)


def _catalog() -> _Catalog:
    """The current language's _Catalog."""
    language = current_language()
    made = current_app.extensions.setdefault("relbuild.email_catalogs", {})
    if language not in made:
        made[language] = _Catalog(language)
    return made[language]


def write_link(note: Note, author: User, words: _Catalog | None = None) -> str:
    """A mailto: draft when they share their email (their page otherwise), in the current language.

    The draft greets them, says where and when you met and leaves a blank line for the author's
    own words. It never pastes the note or the offer: those were written to oneself ("Intro her to
    our accessibility lead") and read wrong when sent as they are.
    """
    person = note.subject
    if not person.share_email:
        return profile_url(person)
    words = words or _catalog()
    first = person.name.split()[0] if person.name.split() else person.name
    day = words.day(local_date(author, note.met_at))
    if note.event is not None:
        met = words._("It was good to meet you at %(event)s on %(day)s.", event=note.event.name, day=day)
        subject = words._("Great to meet you at %(event)s", event=note.event.name)
    else:
        met = words._("It was good to meet you on %(day)s.", day=day)
        subject = words._("Great to meet you")
    lines = [words._("Hi %(name)s,", name=first), "", met, "", "", "",
             words._("Best,"), author.name.split()[0] if author.name.split() else author.name]
    return f"mailto:{quote(person.email)}?subject={quote(subject)}&body={quote(chr(10).join(lines))}"


def render_email(prompts: list[Prompt]):
    """The email for one prompt, or for one digest group; the notes as they are now, in the recipient's language."""
    first = prompts[0]
    with in_language(recipient_language(first)):
        if first.kind in ACCOUNT_EMAILS:
            return ACCOUNT_EMAILS[first.kind](first)
        return _render_prompt(prompts, _catalog())


def recipient_language(prompt: Prompt) -> str:
    """The language the email's reader chose; for an invitation to an address with no account, the event's."""
    if prompt.kind == INVITATION and prompt.invitation is not None:
        invitee = find_user_by_email(prompt.address or prompt.invitation.email)
        return invitee.language if invitee is not None else prompt.invitation.event.language
    return prompt.user.language if prompt.user is not None else "en"


def _render_prompt(prompts: list[Prompt], words: _Catalog):
    first = prompts[0]
    user: User = first.user
    items = [{"prompt": p, "note": p.note, "person": p.note.subject, "write": write_link(p.note, user, words),
              "done": _link("followups.email_action", action_token(p.id, "done")),
              "snooze": _link("followups.email_action", action_token(p.id, "snooze"))}
             for p in prompts]
    unsubscribe = _link("followups.unsubscribe", unsubscribe_token(user.public_id))
    names = [item["person"].name for item in items]
    who = names[0] if len(names) == 1 else words.ngettext("%(name)s and %(num)d more", "%(name)s and %(num)d more",
                                                          len(names) - 1, name=names[0])
    event = first.note.event if first.kind == DIGEST else None
    met_on = local_date(user, first.note.met_at) if first.kind == DIGEST else None
    day = words.day(met_on) if met_on else None
    if event is not None:  # the event's name is an organizer's words: quoted, never the whole subject
        subject = words._("Your notes from “%(event)s”: %(who)s", event=event.name, who=who)
        message_id = f"<digest.{user.public_id}.event-{event.id}@{mail_domain()}>"
    elif day is not None:
        subject = words._("Your notes from %(day)s: %(who)s", day=day, who=who)
        message_id = f"<digest.{user.public_id}.{met_on.isoformat()}@{mail_domain()}>"
    else:
        subject = {
            "offer_check": words._("You offered to help %(name)s — did you?", name=names[0]),
            "reconnect": words._("How is it going with %(name)s?", name=names[0]),
            "reminder": words._("Reminder: follow up with %(name)s", name=names[0]),
        }[first.kind]
        message_id = f"<prompt.{opaque_id('prompt', first.id)}@{mail_domain()}>"
    context = {"user": user, "items": items, "kind": first.kind, "day": day, "event": event,
               "unsubscribe": unsubscribe, "followups": _link("followups.index")}
    return build_message(
        to=user.email, subject=subject, message_id=message_id,
        text=words.render("email/prompt.txt", context), html=words.render("email/prompt.html", context),
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


_TOKEN = "0token0"


def _link(endpoint: str, token: str | None = None) -> str:
    """url_for(endpoint, token=token, _external=True), the rest of the URL built once a request (a pass renders
    thousands of links in one); signed tokens are URL-safe, so url_for would not have quoted them either."""
    links = request.environ.setdefault("relbuild.links", {})
    if endpoint not in links:
        links[endpoint] = url_for(endpoint, _external=True, **({} if token is None else {"token": _TOKEN}))
    return links[endpoint] if token is None else links[endpoint].replace(_TOKEN, token)


def _account_email(prompt: Prompt, subject: str, template: str, **context) -> object:
    """An email about an account or an invitation, to the prompt's address (or the account's)."""
    to = prompt.address or prompt.user.email
    context.update(user=prompt.user, to=to)
    words = _catalog()
    return build_message(
        to=to, subject=subject, message_id=f"<{prompt.kind}.{opaque_id('prompt', prompt.id)}@{mail_domain()}>",
        text=words.render(f"email/{template}.txt", context), html=words.render(f"email/{template}.html", context),
    )


def render_invitation(prompt: Prompt):
    """An organizer's invitation: the event, who invites, and one link to answer (yes or no).

    The same email whether or not the address has an account. The organizer's words (the event's
    name and venue, which hold no links) are quoted and never make the subject on their own; the
    inviter is named by their confirmed address, not by a name they typed.
    """
    invitation = prompt.invitation
    event = invitation.event
    organizer = invitation.role == "organizer"
    if organizer and event.venue:
        invited = _("You are invited to be an organizer of the event “%(name)s” on Relbuild, at “%(venue)s”.",
                    name=event.name, venue=event.venue)
    elif organizer:
        invited = _("You are invited to be an organizer of the event “%(name)s” on Relbuild.", name=event.name)
    elif event.venue:
        invited = _("You are invited to the event “%(name)s” on Relbuild, at “%(venue)s”.", name=event.name,
                    venue=event.venue)
    else:
        invited = _("You are invited to the event “%(name)s” on Relbuild.", name=event.name)
    return _account_email(
        prompt, _("Invitation to “%(event)s” on Relbuild", event=event.name), "invitation", invitation=invitation,
        event=event, when=event_when(event), invited=invited, inviter=invitation.inviter,
        answer=url_for("invitations.show", token=invitation_token(invitation), _external=True))


def render_password_reset(prompt: Prompt):
    """A link to choose a new password; it lasts an hour and works once."""
    return _account_email(prompt, _("Reset your Relbuild password"), "password_reset",
                          reset=url_for("auth.reset_password", token=reset_token(prompt.user), _external=True))


def render_confirmation(prompt: Prompt):
    """A link that confirms the address it was sent to (after sign-up, or to move the account there)."""
    to = prompt.address or prompt.user.email
    return _account_email(prompt, _("Confirm your email address for Relbuild"), "confirm_email",
                          change=to != prompt.user.email,
                          confirm=url_for("verification.confirm", token=confirmation_token(prompt.user, to),
                                          _external=True))


def render_email_changed(prompt: Prompt):
    """To the old address: the account moved to another one."""
    return _account_email(prompt, _("Your Relbuild email address was changed"), "email_changed",
                          new=prompt.user.email)


def render_signup_attempt(prompt: Prompt):
    """To an account's address: someone tried to sign up with it (the sign-up page said nothing more)."""
    return _account_email(prompt, _("You already have a Relbuild account"), "signup_attempt",
                          login=url_for("auth.login", _external=True),
                          reset=url_for("auth.reset_password", token=reset_token(prompt.user), _external=True))


ACCOUNT_EMAILS = {INVITATION: render_invitation, PASSWORD_RESET: render_password_reset,
                  CONFIRM_EMAIL: render_confirmation, EMAIL_CHANGED: render_email_changed,
                  SIGNUP_ATTEMPT: render_signup_attempt}


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 60 * 2 ** max(0, attempts - 1)))


def _failed(group: list[Prompt], token: str, now: datetime, error: Exception, permanent: bool,
            result: PassResult) -> None:
    attempts = group[0].attempts + 1
    message = f"{error.__class__.__name__}: {error}"[:500]
    if attempts >= (MAX_ATTEMPTS_REFUSED if permanent else MAX_ATTEMPTS):
        _set(group, token, status="failed", attempts=attempts, last_error=message)
        result.failed += len(group)
    else:
        _set(group, token, status="pending", attempts=attempts, last_error=message,
             next_attempt_at=now + _backoff(attempts))
        result.retrying += len(group)
    result.errors.append(message)


def _is_permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def send_due(now: datetime | None = None) -> PassResult:
    """One pass: send every prompt due at `now` (default: the real time) exactly once."""
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["FOLLOWUP_LEASE_SECONDS"])
    token = secrets.token_hex(16)
    result = PassResult()
    in_flight: dict[Future, list[Prompt]] = {}
    answered: queue.SimpleQueue[Future] = queue.SimpleQueue()  # each future as its SMTP answer comes
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]), open_transport() as transport:
        while prompts := _claim(now, token, utcnow(), lease):
            with_devices = _with_devices(prompts)
            for group in _groups(prompts):
                # Already handled in the app: nothing to send (still shown in-app).
                handled = [p for p in group if p.action]
                if handled:
                    _set(handled, token, status="skipped")
                    result.skipped += len(handled)
                    group = [p for p in group if p not in handled]
                if group and group[0].kind not in ACCOUNT_KINDS:
                    group = _push_or_skip(group, token, now, result, group[0].user_id in with_devices)
                # Follow-ups go only to a confirmed address; they wait for it (mark_confirmed releases them).
                held = [p for p in group if p.kind not in ACCOUNT_KINDS and not is_confirmed(p.user)]
                if held:
                    _set(held, token, status="held")
                    result.skipped += len(held)
                    group = [p for p in group if p not in held]
                if not group:
                    continue
                try:
                    message = render_email(group)
                except Exception as error:  # noqa: BLE001 -- one unrenderable prompt must not stop the others
                    current_app.logger.exception("could not render prompt %s", group[0].id)
                    _failed(group, token, now, error, True, result)
                    continue
                if len(in_flight) >= transport.size:  # this one is ready before a connection frees up
                    _settle(in_flight, answered, token, now, result)
                future = transport.submit(message)
                in_flight[future] = group
                future.add_done_callback(answered.put)
            while in_flight:  # before the next claim: its rows must not still look in flight
                _settle(in_flight, answered, token, now, result)
        # Pushes go after the emails, from their own outbox: a dead device never holds an email up.
        forget_expired(utcnow())
        result.pushes = send_due_pushes(now, lease, _backoff)
    _record_pass(result)
    return result


def _settle(in_flight: dict, answered: queue.SimpleQueue, token: str, now: datetime, result: PassResult) -> None:
    """Wait for at least one SMTP answer, then record the outcome of every message answered by then.

    A message stays in `in_flight` until recorded, and no more than SMTP_CONNECTIONS are: at most that
    many were accepted by the server and not yet marked sent, whenever the worker dies.
    """
    done = [answered.get()]
    while not answered.empty():
        done.append(answered.get())
    accepted: list[Prompt] = []
    for future in done:
        group = in_flight.pop(future)
        try:
            future.result()
        except (smtplib.SMTPException, OSError) as error:
            _failed(group, token, now, error, _is_permanent(error), result)
            continue
        accepted += group
        result.sent += len(group)
        result.emails += 1
    if accepted:  # one UPDATE and commit for every message answered meanwhile
        _mark_sent(accepted, token)


def _push_can_arrive(group: list[Prompt]) -> bool:
    from ..models import PushDelivery

    return db.session.scalar(sa.select(PushDelivery.id).where(
        PushDelivery.prompt_id.in_([p.id for p in group]),
        PushDelivery.status.in_(("pending", "sending", "sent"))).limit(1)) is not None


def _with_devices(prompts: list[Prompt]) -> set[int]:
    """Authors in a claimed batch with a push subscription: one query, not one per email (most have none)."""
    from ..models import PushSubscription

    authors = {p.user_id for p in prompts if p.kind not in ACCOUNT_KINDS}
    return set(db.session.scalars(sa.select(PushSubscription.user_id).distinct()
                                  .where(PushSubscription.user_id.in_(authors)))) if authors else set()


def _push_or_skip(group: list[Prompt], token: str, now: datetime, result: PassResult,
                  may_push: bool = True) -> list[Prompt]:
    """Queue the group's pushes to the author's devices; what is left to email.

    "push" (notifications only) sends no email when a device of theirs is signed in, and email
    instead when none is (nobody loses a prompt by signing out); "email" pushes nothing.
    """
    user = group[0].user
    devices = queue_pushes(group, now, utcnow()) if may_push and user.prompt_channel != "email" else 0
    if devices and user.prompt_channel == "push" and not _push_can_arrive(group):
        devices = 0  # every push of it failed for good (services.push._email_instead sent it back here)
    wants_email = user.email_prompts and not (user.prompt_channel == "push" and devices)
    if wants_email:
        return group
    if devices:
        _mark_sent(group, token)
        result.sent += len(group)
    else:  # emails turned off and no device: nothing to send (still shown in-app)
        _set(group, token, status="skipped")
        result.skipped += len(group)
    return []


def _record_pass(result: PassResult) -> None:
    values = {"finished_at": utcnow(), "sent": result.sent, "failed": result.failed, "retrying": result.retrying,
              "last_error": result.errors[-1] if result.errors else None}
    update = sa.update(WorkerPass).where(WorkerPass.name == WORKER_NAME).values(**values)
    if db.session.execute(update).rowcount == 0:
        try:
            db.session.add(WorkerPass(name=WORKER_NAME, **values))
            db.session.commit()
            return
        except IntegrityError:  # another worker's first pass wrote the row a moment ago
            db.session.rollback()
            db.session.execute(update)
    db.session.commit()


def coming_up(now: datetime | None = None, limit: int = 10) -> list[tuple[datetime, Prompt, int]]:
    """The next prompts the worker will send after `now`: (due, first prompt of its email, prompts in it)."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(sa.func.min(Prompt.id), sa.func.min(Prompt.next_attempt_at), sa.func.count())
        .where(Prompt.status == "pending", Prompt.next_attempt_at > now)
        .group_by(sa.func.coalesce(Prompt.group_key, sa.cast(Prompt.id, sa.String)))
        .order_by(sa.func.min(Prompt.next_attempt_at)).limit(limit)
    ).all()
    firsts = {p.id: p for p in db.session.scalars(
        sa.select(Prompt).where(Prompt.id.in_([row[0] for row in rows])).options(joinedload(Prompt.user)))}
    return [(due, firsts[first_id], count) for first_id, due, count in rows]


@dataclass
class Status:
    due_now: int
    scheduled: int
    sending: int
    failed: int
    last_pass: WorkerPass | None


def status(now: datetime | None = None) -> Status:
    """Backlog, failures and the last pass, for `followups status` and /healthz."""
    now = now or utcnow()
    counts = dict(db.session.execute(
        sa.select(
            sa.case((sa.and_(Prompt.status == "pending", Prompt.next_attempt_at <= now), "due"),
                    else_=Prompt.status),
            sa.func.count(),
        ).where(Prompt.status.in_(("pending", "sending", "failed"))).group_by(sa.text("1"))
    ).all())
    return Status(due_now=counts.get("due", 0), scheduled=counts.get("pending", 0), sending=counts.get("sending", 0),
                  failed=counts.get("failed", 0), last_pass=db.session.get(WorkerPass, WORKER_NAME))

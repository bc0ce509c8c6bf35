"""Deleting an account: what the person wrote goes, what others wrote about them stays theirs."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import (AttendeeImport, Badge, EventAttendee, EventOrganizer, Invitation, LoginSession, Note, Passkey,
                      PasskeyChallenge, Prompt, User, utcnow)
from .accounts import DELETED, confirm_password
from .errors import RelbuildError
from .followups import OFFER_CHECK, RECONNECT, REMINDER
from .imports import forget_address as forget_in_imports
from .invitations import forget_address as forget_invitations
from ..i18n import gettext as _

CONFIRM_WORD = "DELETE"
DELETED_NAME = "Deleted account"


def delete_account(user: User, password: str, confirm: str) -> None:
    """Delete the account after the password and the typed confirmation, in one transaction.

    Gone: my notes (with their history), every prompt addressed to me, my badges, sessions, event
    memberships and uploads, my profile, every invitation to my address (and its email) and my row
    in any attendee import still waiting for confirmation. Notes others wrote about me stay with
    their authors, under an empty row that shows no profile; their pending nudges to contact me
    are cancelled.
    """
    confirm_password(user, password)
    if confirm.strip().upper() != CONFIRM_WORD:
        raise RelbuildError("confirm_delete", _("Type %(confirm_word)s to confirm.", confirm_word=CONFIRM_WORD), "confirm")
    about_me = sa.select(Note.id).where(Note.subject_id == user.id).scalar_subquery()
    db.session.execute(sa.update(Prompt).where(Prompt.note_id.in_(about_me), Prompt.status == "pending",
                                               Prompt.kind.in_((OFFER_CHECK, RECONNECT, REMINDER)))
                       .values(status="cancelled"))
    for model, column in ((Prompt, Prompt.user_id), (Note, Note.author_id), (Badge, Badge.user_id),
                          (LoginSession, LoginSession.user_id), (EventAttendee, EventAttendee.user_id),
                          (EventOrganizer, EventOrganizer.user_id), (AttendeeImport, AttendeeImport.uploaded_by),
                          (Passkey, Passkey.user_id), (PasskeyChallenge, PasskeyChallenge.user_id)):
        db.session.execute(sa.delete(model).where(column == user.id))
    for address in {user.email, user.pending_email} - {None}:
        forget_invitations(address)
        forget_in_imports(address)
    # Invitations I sent that nobody answered yet go too (their emails with them).
    db.session.execute(sa.delete(Invitation).where(Invitation.invited_by == user.id, Invitation.status == "pending"))
    user.name, user.email, user.pending_email = DELETED_NAME, f"deleted-{user.public_id}@deleted.invalid", None
    user.password_hash = DELETED
    user.headline = user.can_help_with = user.looking_for = ""
    user.values, user.share_email, user.email_prompts, user.calendar_token = [], False, False, None
    user.passkey_handle = None
    user.deleted_at, user.email_confirmed_at = utcnow(), None
    db.session.commit()

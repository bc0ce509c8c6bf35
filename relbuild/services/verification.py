"""Confirmed email addresses: sign-up confirmation, and changing the address from its new inbox.

An address counts as the person's once they open a link sent to it: the confirmation link after
sign-up, an invitation they accepted, a password-reset link. Follow-up email waits for that.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..models import Prompt, User, utcnow
from .accounts import DELETED, PASSKEY_ONLY, confirm_password, find_user_by_email, normalize_email
from .errors import RelbuildError
from .followups import CONFIRM_EMAIL, EMAIL_CHANGED, queue_account_email
from ..i18n import gettext as _

CONFIRM_MAX_AGE = 7 * 24 * 3600
RESEND_EVERY = timedelta(minutes=2)  # asking again sooner does not send another email
RELEASE_WITHIN = timedelta(days=3)  # held follow-ups younger than this go out once the address is confirmed


def is_confirmed(user: User) -> bool:
    """Whether the user's current address is confirmed as theirs."""
    return user.email_confirmed_at is not None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="confirm-email")


def confirmation_token(user: User, address: str) -> str:
    """The secret in the link sent to `address` (the account's address, or the one it asked to move to)."""
    return _serializer().dumps({"u": user.public_id, "e": address})


def read_confirmation(token: str) -> tuple[User, str]:
    """(account, address) a confirmation link is for, while that address is still the one to confirm."""
    try:
        data = _serializer().loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired:
        raise RelbuildError("confirm_expired", _("This link has expired: links to confirm an address last a week. Log in and ask for a new one on your account page."), status=410)
    except BadSignature:
        raise RelbuildError("confirm_invalid", _("This link is not valid. Check that you copied all of it."), status=404)
    if not isinstance(data, dict):
        raise RelbuildError("confirm_invalid", _("This link is not valid."), status=404)
    user = db.session.scalar(sa.select(User).where(User.public_id == str(data.get("u"))))
    address = data.get("e")
    if user is None or user.password_hash == DELETED or address not in (user.email, user.pending_email):
        raise RelbuildError("confirm_stale", _("This link is for an address this account no longer uses."),
                            status=410)
    return user, address


def mark_confirmed(user: User) -> None:
    """The current address is proven; held follow-ups that are still fresh go out (the caller commits)."""
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    db.session.execute(
        sa.update(Prompt).where(Prompt.user_id == user.id, Prompt.status == "held")
        .values(status=sa.case((Prompt.due_at > utcnow() - RELEASE_WITHIN, "pending"), else_="skipped"),
                next_attempt_at=utcnow())
    )


def needs_passkey_to_confirm(user: User, signed_in: User | None) -> bool:
    """Whether confirming this account's address waits for its owner to sign in with their passkey.

    An account made with a passkey only has no password to prove who made it: confirming from the inbox
    alone would let someone sign up with another person's address and have that person confirm it for
    them. So the link works only in a browser signed in to that account (with the passkey).
    """
    return user.password_hash == PASSKEY_ONLY and (signed_in is None or signed_in.id != user.id)


def confirm_address(token: str, signed_in: User | None = None) -> User:
    """Confirm the address a link was sent to: the account's own, or the new one it asked for.

    `signed_in`: the account this browser is signed in to, if any (see needs_passkey_to_confirm).
    """
    user, address = read_confirmation(token)
    if needs_passkey_to_confirm(user, signed_in):
        raise RelbuildError("confirm_needs_passkey", _("Sign in with the passkey you made when you signed up, "
                                                       "then confirm."), status=403)
    if address == user.pending_email and address != user.email:
        if find_user_by_email(address) is not None:
            user.pending_email = None
            db.session.commit()
            raise RelbuildError("email_taken_since", _("Another account uses that address now, so your email stays as it was."), status=409)
        old = user.email
        user.email, user.pending_email, user.email_confirmed_at = address, None, None
        queue_account_email(EMAIL_CHANGED, user, address=old)
    mark_confirmed(user)
    db.session.commit()
    return user


def send_confirmation(user: User) -> bool:
    """Email a confirmation link to the address waiting for one; False when one just went."""
    address = user.pending_email or user.email
    if address == user.email and is_confirmed(user):
        return False
    sent = queue_account_email(CONFIRM_EMAIL, user, address=None if address == user.email else address,
                               once_within=RESEND_EVERY)
    db.session.commit()
    return sent


def request_email_change(user: User, new_email: str, password: str) -> str:
    """Ask to move the account to another address after checking the password; returns that address.

    Nothing changes until the link sent to the new address is opened. The answer is the same
    whether or not another account has that address (that one gets nothing).
    """
    confirm_password(user, password)
    email = normalize_email(new_email)
    if email == user.email:
        user.pending_email = None
        db.session.commit()
        return email
    user.pending_email = email
    if find_user_by_email(email) is None:
        queue_account_email(CONFIRM_EMAIL, user, address=email)
    db.session.commit()
    return email


def cancel_email_change(user: User) -> None:
    user.pending_email = None
    db.session.commit()


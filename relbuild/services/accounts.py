"""Accounts: sign-up, password checks, sign-in sessions."""
from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from ..extensions import db
from ..models import LoginSession, Prompt, User, utcnow
from .badges import issue_badge
from .errors import RelbuildError
from .followups import PASSWORD_RESET

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# Checked against when the email is unknown, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("relbuild-timing-equaliser")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def normalize_email(raw: str) -> str:
    """Return the canonical, lower-cased form of an email address or raise RelbuildError."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise RelbuildError("bad_email", "Enter an email address like name@example.com.", "email")


def check_password_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse short, very long and common passwords with a message that says what to do."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RelbuildError("weak_password", f"Use at least {MIN_PASSWORD_LENGTH} characters.", "password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise RelbuildError("long_password", f"Use at most {MAX_PASSWORD_LENGTH} characters.", "password")
    lowered = password.lower()
    guessable = {email.lower(), email.split("@")[0].lower(), name.strip().lower()} - {""}
    if lowered in _common_passwords() or lowered in guessable or len(set(password)) < 3:
        raise RelbuildError(
            "common_password",
            "That password is one of the most common and easy to guess. "
            "Try a short phrase of three or four words you will remember.",
            "password",
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, Werkzeug's default


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def register_user(name: str, email: str, password: str, timezone: str = "UTC") -> User:
    """Create an account with its first badge. Raises RelbuildError('email_taken') when the address is in use."""
    name = " ".join(name.split())  # one line: it goes into email subjects and badge sheets
    if not name:
        raise RelbuildError("name_required", "Tell people your name.", "name")
    email = normalize_email(email)
    check_password_policy(password, email=email, name=name)
    if find_user_by_email(email) is not None:
        raise RelbuildError("email_taken", "An account exists for this address.", "email")
    from .profiles import valid_timezone

    user = User(name=name[:80], email=email, password_hash=hash_password(password),
                timezone=valid_timezone(timezone), values=[])
    db.session.add(user)
    db.session.flush()
    issue_badge(user)
    db.session.commit()
    return user


UNCLAIMED = "!unclaimed"  # an account an organizer made: nobody can log in until it is claimed
DELETED = "!deleted"  # a deleted account's empty row
CLAIM_MAX_AGE = 14 * 24 * 3600
RESET_MAX_AGE = 3600


def create_invited(name: str, email: str, headline: str = "") -> User:
    """An account made from an organizer's attendee list; its owner claims it by setting a password."""
    user = User(name=name[:80], email=email, headline=headline[:120], password_hash=UNCLAIMED, values=[])
    db.session.add(user)
    return user


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def _fingerprint(user: User) -> str:
    # Changes whenever the password is set, so claim and reset links work once.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _account_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"u": user.public_id, "f": _fingerprint(user)})


def _user_for_token(token: str, purpose: str, max_age: int) -> User | None:
    """The account a signed link is for, while its password is unchanged; None when used; raises on expiry/forgery."""
    data = _serializer(purpose).loads(token, max_age=max_age)
    user = db.session.scalar(sa.select(User).where(User.public_id == str(data.get("u"))))
    if user is None or user.password_hash == DELETED or _fingerprint(user) != data.get("f"):
        return None
    return user


def claim_token(user: User) -> str:
    return _account_token(user, "claim-account")


def user_for_claim(token: str) -> User:
    """The unclaimed account a claim link is for; RelbuildError when expired, used or forged."""
    try:
        user = _user_for_token(token, "claim-account", CLAIM_MAX_AGE)
    except SignatureExpired:
        raise RelbuildError("claim_expired", "This invitation link has expired. Ask the organizer for a new one.",
                            status=410)
    except BadSignature:
        raise RelbuildError("claim_invalid", "This invitation link is not valid.", status=404)
    if user is None or user.password_hash != UNCLAIMED:
        raise RelbuildError("claim_used", "This invitation was already used. Log in with your password.",
                            status=410)
    return user


def reset_token(user: User) -> str:
    return _account_token(user, "reset-password")


def user_for_reset(token: str) -> User:
    """The account a password-reset link is for; RelbuildError when expired, already used or forged."""
    try:
        user = _user_for_token(token, "reset-password", RESET_MAX_AGE)
    except SignatureExpired:
        raise RelbuildError("reset_expired", "This link has expired: links to reset a password last one hour. "
                            "Ask for a new one below.", status=410)
    except BadSignature:
        raise RelbuildError("reset_invalid", "This link is not valid. Ask for a new one below.", status=404)
    if user is None:
        raise RelbuildError("reset_used", "This link was already used. Ask for a new one if you need to.", status=410)
    return user


def request_password_reset(email: str) -> None:
    """Queue a reset email when an account has this address; the same silence either way (no enumeration)."""
    try:
        email = normalize_email(email)
    except RelbuildError:
        return
    user = find_user_by_email(email)
    if user is None or user.password_hash == DELETED:
        return
    waiting = sa.select(Prompt.id).where(Prompt.user_id == user.id, Prompt.kind == PASSWORD_RESET,
                                         Prompt.status == "pending")
    if db.session.scalar(waiting.limit(1)) is None:  # one email on its way is enough
        now = utcnow()
        db.session.add(Prompt(user_id=user.id, kind=PASSWORD_RESET, due_at=now, next_attempt_at=now))
        db.session.commit()


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link (once) and end every session of the account."""
    user = user_for_reset(token)
    _set_password(user, password)
    end_sessions(user)
    db.session.commit()
    return user


def _set_password(user: User, password: str) -> None:
    check_password_policy(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)


def confirm_password(user: User, password: str, field: str = "password") -> None:
    """Ask for the password again before a sensitive change; RelbuildError when it is wrong."""
    if not password or not check_password_hash(user.password_hash, password):
        raise RelbuildError("wrong_password", "That is not your current password.", field)


def change_password(user: User, current: str, new: str) -> None:
    """Change the password after checking the current one; every other session ends."""
    confirm_password(user, current, "current_password")
    try:
        _set_password(user, new)
    except RelbuildError as error:
        raise RelbuildError(error.code, error.message, "new_password")
    sign_out_elsewhere(user)


def sign_out_elsewhere(user: User) -> None:
    """End every session of the user but the current one."""
    end_sessions(user, keep=user.session_id)
    db.session.commit()


def change_email(user: User, new_email: str, password: str) -> None:
    """Move the account to another address after checking the password."""
    confirm_password(user, password)
    email = normalize_email(new_email)
    if email != user.email:
        if find_user_by_email(email) is not None:
            raise RelbuildError("email_taken", "Another account uses that address.", "email")
        user.email = email
    db.session.commit()


def claim_account(token: str, password: str) -> User:
    """Set the first password of an invited account (once)."""
    user = user_for_claim(token)
    _set_password(user, password)
    if user.current_badge is None:
        issue_badge(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the user when the email and password match; spends the same work either way."""
    try:
        email = normalize_email(email)
    except RelbuildError:
        email = ""
    user = find_user_by_email(email) if email else None
    if user is None or user.password_hash in (UNCLAIMED, DELETED):
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def start_session(user: User) -> User:
    """Open a new server-side session for the user; the returned user carries its id for Flask-Login."""
    login_session = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id)
    db.session.add(login_session)
    db.session.commit()
    user.session_id = login_session.id
    return user


def end_sessions(user: User, keep: str | None = None) -> None:
    """Sign the user out everywhere (but in the session `keep`); the caller commits."""
    ended = sa.delete(LoginSession).where(LoginSession.user_id == user.id)
    db.session.execute(ended.where(LoginSession.id != keep) if keep else ended)


def end_session(session_id: str | None) -> None:
    """Delete a server-side session so its cookie no longer signs anyone in."""
    if session_id:
        db.session.execute(sa.delete(LoginSession).where(LoginSession.id == session_id))
        db.session.commit()


def load_session_user(session_id: str) -> User | None:
    """Return the signed-in user for a session id, or None when that session has ended."""
    user = db.session.scalar(
        sa.select(User).join(LoginSession, LoginSession.user_id == User.id).where(LoginSession.id == session_id)
    )
    if user is not None:
        user.session_id = session_id
    return user

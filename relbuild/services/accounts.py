"""Accounts: sign-up, password checks, sign-in sessions."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from ..extensions import db
from ..models import LoginSession, Prompt, User, utcnow
from .badges import issue_badge
from .errors import RelbuildError
from .followups import CONFIRM_EMAIL, PASSWORD_RESET, SIGNUP_ATTEMPT, queue_account_email
from .throttle import release_attempt, reserve_attempt
from ..i18n import gettext as _

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# Checked against when the email is unknown, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("relbuild-timing-equaliser")
SEEN_EVERY = timedelta(minutes=5)  # how fresh a session's last-seen time is kept


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def normalize_email(raw: str) -> str:
    """Return the canonical, lower-cased form of an email address or raise RelbuildError."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise RelbuildError("bad_email", _("Enter an email address like name@example.com."), "email")


def check_password_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse short, very long and common passwords with a message that says what to do."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RelbuildError("weak_password", _("Use at least %(min_password_length)s characters.", min_password_length=MIN_PASSWORD_LENGTH), "password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise RelbuildError("long_password", _("Use at most %(max_password_length)s characters.", max_password_length=MAX_PASSWORD_LENGTH), "password")
    lowered = password.lower()
    guessable = {email.lower(), email.split("@")[0].lower(), name.strip().lower()} - {""}
    if lowered in _common_passwords() or lowered in guessable or len(set(password)) < 3:
        raise RelbuildError(
            "common_password",
            _("That password is one of the most common and easy to guess. Try a short phrase of three or four words you will remember."),
            "password",
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, Werkzeug's default


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def register_user(name: str, email: str, password: str | None, timezone: str = "UTC", *, confirmed: bool = False,
                  commit: bool = True, language: str = "en") -> User:
    """Create an account with its first badge. Raises RelbuildError('email_taken') when the address is in use.

    `confirmed`: the person came through a link sent to this address (an invitation), so it is theirs.
    `password` None: an account that signs in with passkeys only (services.passkeys adds the first).
    """
    name = " ".join(name.split())  # one line: it goes into email subjects and badge sheets
    if not name:
        raise RelbuildError("name_required", _("Tell people your name."), "name")
    email = normalize_email(email)
    if password is not None:
        check_password_policy(password, email=email, name=name)
    if find_user_by_email(email) is not None:
        raise RelbuildError("email_taken", _("An account exists for this address."), "email")
    from .profiles import valid_timezone

    from ..i18n import valid_language

    user = User(name=name[:80], email=email,
                password_hash=PASSKEY_ONLY if password is None else hash_password(password),
                timezone=valid_timezone(timezone), values=[], email_confirmed_at=utcnow() if confirmed else None,
                language=valid_language(language) or "en")
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same address signed up a moment ago, in another request
        db.session.rollback()
        raise RelbuildError("email_taken", _("An account exists for this address."), "email")
    issue_badge(user)
    if commit:
        db.session.commit()
    return user


def sign_up(name: str, email: str, password: str, timezone: str = "UTC", language: str = "en") -> User | None:
    """Sign-up as the form does it: the new account, or None when the address is taken.

    A new account gets a link to confirm its address. A taken address is never signed in and
    never told apart by the answer: its owner gets an email instead (at most one a day), and the
    same password work is spent either way.
    """
    try:
        user = register_user(name, email, password, timezone, language=language)
    except RelbuildError as error:
        if error.code != "email_taken":
            raise
    else:
        queue_account_email(CONFIRM_EMAIL, user)
        db.session.commit()
        return user
    hash_password(password)  # as long as creating the account would have taken
    owner = find_user_by_email(normalize_email(email))
    if owner is not None and owner.password_hash != DELETED:
        queue_account_email(SIGNUP_ATTEMPT, owner, once_within=timedelta(days=1))
        db.session.commit()
    return None


# An account an organizer's import made before imports became invitations: nobody can log in until
# its owner sets a password (through "Forgot your password?", which also proves the address).
UNCLAIMED = "!unclaimed"
DELETED = "!deleted"  # a deleted account's empty row
PASSKEY_ONLY = "!passkey"  # signed up with a passkey: no password until one is set from a reset link
REAUTH_FRESH = timedelta(minutes=5)  # how long a passkey re-authentication stands in for the password
RESET_MAX_AGE = 3600


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def _fingerprint(user: User) -> str:
    # Changes whenever the password or the address changes, so a reset link works once and dies with
    # the address it was sent to.
    return hashlib.sha256(f"{user.password_hash}\n{user.email}".encode()).hexdigest()[:16]


def _account_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"u": user.public_id, "f": _fingerprint(user)})


def _user_for_token(token: str, purpose: str, max_age: int) -> User | None:
    """The account a signed link is for, while its password is unchanged; None when used; raises on expiry/forgery."""
    data = _serializer(purpose).loads(token, max_age=max_age)
    user = db.session.scalar(sa.select(User).where(User.public_id == str(data.get("u"))))
    if user is None or user.password_hash == DELETED or _fingerprint(user) != data.get("f"):
        return None
    return user


def reset_token(user: User) -> str:
    return _account_token(user, "reset-password")


def user_for_reset(token: str) -> User:
    """The account a password-reset link is for; RelbuildError when expired, already used or forged."""
    try:
        user = _user_for_token(token, "reset-password", RESET_MAX_AGE)
    except SignatureExpired:
        raise RelbuildError("reset_expired", _("This link has expired: links to reset a password last one hour. Ask for a new one below."), status=410)
    except BadSignature:
        raise RelbuildError("reset_invalid", _("This link is not valid. Ask for a new one below."), status=404)
    if user is None:
        raise RelbuildError("reset_used", _("This link was already used. Ask for a new one if you need to."), status=410)
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
    """Set a new password from a reset link (once) and end every session of the account.

    The link came to the account's address, so that address is now confirmed too.
    """
    user = user_for_reset(token)
    _set_password(user, password)
    end_sessions(user)
    from .passkeys import forget_unproven

    forget_unproven(user)
    if user.current_badge is None:  # an account an old import made never had one
        issue_badge(user)
    from .verification import mark_confirmed

    mark_confirmed(user)
    db.session.commit()
    return user


def _set_password(user: User, password: str) -> None:
    check_password_policy(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)


def confirm_password(user: User, password: str, field: str = "password") -> None:
    """Ask for the password again before a sensitive change; RelbuildError when it is wrong.

    Wrong guesses here come out of the same per-address allowance as logging in; when it is used up the
    refusal (429) is shown next to the password field like a wrong password. With no password given, a
    passkey re-authentication of this sign-in in the last few minutes stands in for it.
    """
    if not password and recently_reauthenticated(user):
        return
    if user.password_hash == PASSKEY_ONLY:
        raise RelbuildError("reauth_needed", _("Confirm it is you with your passkey first."), field)
    try:
        reserve_attempt(user.email)
    except RelbuildError as error:
        raise RelbuildError(error.code, error.message, field, status=error.status) from None
    if not password or not check_password_hash(user.password_hash, password):
        raise RelbuildError("wrong_password", _("That is not your current password."), field)
    release_attempt(user.email)


def recently_reauthenticated(user: User, now: datetime | None = None) -> bool:
    """Whether this sign-in proved itself with a passkey in the last few minutes."""
    if not user.session_id:
        return False
    at = db.session.scalar(sa.select(LoginSession.reauth_at).where(LoginSession.id == user.session_id,
                                                                    LoginSession.user_id == user.id))
    return at is not None and at > (now or utcnow()) - REAUTH_FRESH


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


def authenticate(email: str, password: str) -> User | None:
    """Return the user when the email and password match; spends the same work either way.

    Takes one attempt from the address's allowance first (RelbuildError 429 when it is used up).
    """
    try:
        email = normalize_email(email)
    except RelbuildError:
        email = (email or "").strip().lower()[:254]
    reserve_attempt(email)
    user = find_user_by_email(email) if email else None
    if user is None or user.password_hash in (UNCLAIMED, DELETED, PASSKEY_ONLY):
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    release_attempt(email)
    return user


def outbox_key(user: User) -> str:
    """Names the account that wrote the notes queued on a phone, without saying who it is.

    The offline outbox stamps each note with it and sends a note only while the same account is signed
    in, so on a shared phone one person's queued notes never go out under another's session.
    """
    message = f"outbox:{user.id}:{user.created_at.isoformat()}".encode()
    return hmac.new(str(current_app.config["SECRET_KEY"]).encode(), message, hashlib.sha256).hexdigest()[:32]


def start_session(user: User, device: str = "") -> User:
    """Open a new server-side session for the user; the returned user carries its id for Flask-Login.

    `device` is a short description of the browser ("Chrome on Android") for the account page.
    """
    login_session = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id, device=device[:120])
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


def end_session_of(user: User, public_id: str) -> bool:
    """Sign out one of the user's sessions, named as on the account page; False when it is not theirs."""
    ended = db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id,
                                                             LoginSession.public_id == public_id))
    db.session.commit()
    return ended.rowcount > 0


def session_limits() -> tuple[timedelta, timedelta]:
    """(idle timeout, absolute lifetime) of a sign-in session."""
    config = current_app.config
    return timedelta(days=config["SESSION_IDLE_DAYS"]), timedelta(days=config["SESSION_MAX_DAYS"])


def _live(now: datetime):
    idle, lifetime = session_limits()
    return sa.and_(LoginSession.last_seen_at > now - idle, LoginSession.created_at > now - lifetime)


# Built once (every signed-in request runs it): _live() with the times as parameters.
_SESSION_USER = (sa.select(User, LoginSession.last_seen_at).join(LoginSession, LoginSession.user_id == User.id)
                 .where(LoginSession.id == sa.bindparam("session_id"),
                        LoginSession.last_seen_at > sa.bindparam("seen_after"),
                        LoginSession.created_at > sa.bindparam("created_after")))


@dataclass(frozen=True)
class Identity:
    """Who a request is signed in as: what limits, language, caching and note writes need (see relbuild/identity.py)."""
    session_id: str
    id: int
    timezone: str
    language: str
    prompt_hour: int
    is_authenticated = True


# The same check, for who a request is signed in as without an account object (relbuild/identity.py).
_SESSION_IDENTITY = (sa.select(User.id, User.timezone, User.language, User.prompt_hour, LoginSession.last_seen_at)
                     .join(LoginSession, LoginSession.user_id == User.id)
                     .where(LoginSession.id == sa.bindparam("session_id"),
                            LoginSession.last_seen_at > sa.bindparam("seen_after"),
                            LoginSession.created_at > sa.bindparam("created_after")))
_TOUCH_SESSION = sa.update(LoginSession.__table__).where(LoginSession.id == sa.bindparam("touched_id"))


def _live_session_row(connection, statement, session_id: str, now: datetime | None):
    """The row of a session that has neither idled out nor outlived its lifetime (its last use noted), or None.

    The session's last-seen time is written at most every few minutes, not on every request.
    """
    now = now or utcnow()
    idle, lifetime = session_limits()
    row = connection.execute(statement, {"session_id": session_id, "seen_after": now - idle,
                                         "created_after": now - lifetime}).first()
    if row is not None and now - row.last_seen_at > SEEN_EVERY:
        connection.execute(_TOUCH_SESSION, {"touched_id": session_id, "last_seen_at": now})
        connection.commit()
    return row


def load_session_user(session_id: str, now: datetime | None = None) -> User | None:
    """Return the signed-in user for a session id, or None when that session has ended or expired."""
    row = _live_session_row(db.session, _SESSION_USER, session_id, now)
    if row is None:
        return None
    user = row[0]
    user.session_id = session_id
    return user


def load_session_identity(connection: sa.Connection, session_id: str, now: datetime | None = None) -> Identity | None:
    """load_session_user's check on a Core connection, answered with the few columns a request needs."""
    row = _live_session_row(connection, _SESSION_IDENTITY, session_id, now)
    return None if row is None else Identity(session_id, row.id, row.timezone, row.language, row.prompt_hour)


def active_sessions(user: User, now: datetime | None = None) -> list[LoginSession]:
    """The user's sessions that still work, most recently used first (expired ones are removed)."""
    now = now or utcnow()
    db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id, ~_live(now)))
    db.session.commit()
    return list(db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == user.id)
                                   .order_by(LoginSession.last_seen_at.desc())))


_BROWSERS = (("Edg/", "Edge"), ("EdgA/", "Edge"), ("SamsungBrowser/", "Samsung Internet"), ("OPR/", "Opera"),
             ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe_device(user_agent: str) -> str:
    """'Chrome on Android' from a User-Agent header, for the list of signed-in devices."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"

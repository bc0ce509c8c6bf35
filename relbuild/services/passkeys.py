"""Passkeys (WebAuthn): sign up, sign in, re-authenticate and manage passkeys, with py_webauthn.

Every ceremony starts with a challenge kept in the database (`PasskeyChallenge`) for a few minutes
and deleted when it is used, so an answer can be replayed neither later nor twice. The relying
party is the host of BASE_URL and the only accepted origin is BASE_URL's; user verification (the
phone's screen lock) is required every time; a credential id belongs to one account (a unique
column); a sign counter that does not go up refuses the sign-in (a cloned authenticator).

Sign-up with a passkey follows the password sign-up's rules: a new address gets its account, a
confirmation email and a session; a taken address gets the same answer, no session and no passkey,
and its owner an email. A passkey-only account confirms its address from the link *while signed
in with that passkey*, so someone who signed up with another person's address cannot get it
confirmed by that person (who does not hold the passkey); a password reset from the inbox
removes the passkeys made before the address was confirmed.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from webauthn import (generate_authentication_options, generate_registration_options, options_to_json,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria, AuthenticatorTransport,
                                      PublicKeyCredentialDescriptor, ResidentKeyRequirement,
                                      UserVerificationRequirement)

from ..extensions import db
from ..models import LoginSession, Passkey, PasskeyChallenge, User, utcnow
from .accounts import (DELETED, UNCLAIMED, confirm_password, find_user_by_email, normalize_email,
                       register_user)
from .errors import RelbuildError
from .followups import CONFIRM_EMAIL, SIGNUP_ATTEMPT, queue_account_email
from ..i18n import gettext as _

CHALLENGE_LIFETIME = timedelta(minutes=5)
CEREMONY_TIMEOUT_MS = 120_000
NAME_MAX = 60
RP_NAME = "Relbuild"
_TRANSPORTS = {t.value for t in AuthenticatorTransport}
# What py_webauthn (and the CBOR and base64 decoding under it) raises on an answer it cannot accept.
_UNREADABLE = (WebAuthnException, ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- where passkeys work ------------------------------------------------------------------------

def relying_party() -> tuple[str, str]:
    """(RP ID, origin) from BASE_URL: the host, and scheme://host[:port]."""
    parts = urlsplit(current_app.config["BASE_URL"])
    return (parts.hostname or ""), f"{parts.scheme}://{parts.netloc}"


def unavailable_reason() -> str | None:
    """Why passkeys cannot work with this BASE_URL (said on the pages), or None when they can."""
    parts = urlsplit(current_app.config["BASE_URL"])
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        port = f":{parts.port}" if parts.port else ""
        return _("Passkeys are off on this server: it is reached at an IP address (%(host)s), and browsers only "
                 "allow passkeys for a name. Open it as http://localhost%(port)s on this computer, or use "
                 "make run HTTPS=1 with a name for phones.", host=host, port=port)
    local = host == "localhost" or host.endswith(".localhost")
    if parts.scheme != "https" and not local:
        origin = f"{parts.scheme}://{parts.netloc}"
        return _("Passkeys are off on this server: browsers only allow them over HTTPS (or on localhost), "
                 "and it is reached at %(origin)s.", origin=origin)
    return None


def _require_available() -> None:
    reason = unavailable_reason()
    if reason:
        raise RelbuildError("passkeys_off", reason, status=409)


# -- challenges -----------------------------------------------------------------------------------

def _new_challenge(purpose: str, *, user: User | None = None, data: dict | None = None) -> bytes:
    """A fresh random challenge, kept for CHALLENGE_LIFETIME; expired ones are swept at the same time."""
    now = utcnow()
    db.session.execute(sa.delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
    raw = secrets.token_bytes(32)
    db.session.add(PasskeyChallenge(challenge=_b64(raw), purpose=purpose, user_id=user.id if user else None,
                                    session_id=user.session_id if user else None, data=data,
                                    expires_at=now + CHALLENGE_LIFETIME))
    db.session.commit()
    return raw


def _challenge_of(credential: dict) -> str:
    try:
        client_data = json.loads(_unb64(credential["response"]["clientDataJSON"]))
        challenge = client_data["challenge"]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RelbuildError("passkey_invalid", _("The browser's answer could not be read. Try again."), status=400)
    if not isinstance(challenge, str) or not challenge or len(challenge) > 128:
        raise RelbuildError("passkey_invalid", _("The browser's answer could not be read. Try again."), status=400)
    return challenge


def _take_challenge(credential: dict, purpose: str, user: User | None = None) -> PasskeyChallenge:
    """Use up the challenge the answer was made for: it must exist, be fresh, be for this purpose (and person)."""
    challenge = _challenge_of(credential)
    row = db.session.scalar(sa.select(PasskeyChallenge).where(PasskeyChallenge.challenge == challenge))
    # Deleting is the claim: of two requests with the same answer, only one deletes the row.
    taken = db.session.execute(sa.delete(PasskeyChallenge).where(PasskeyChallenge.challenge == challenge)).rowcount
    db.session.commit()
    if row is None or taken != 1 or row.purpose != purpose:
        raise RelbuildError("passkey_challenge", _("This passkey request was already used or is unknown. Try again."), status=400)
    if row.expires_at <= utcnow():
        raise RelbuildError("passkey_expired", _("That took too long: passkey requests last five minutes. Try again."), status=400)
    if user is not None and (row.user_id != user.id or row.session_id != user.session_id):
        raise RelbuildError("passkey_challenge", _("This passkey request was made for another sign-in. Try again."),
                            status=400)
    return row


def _options_json(options) -> dict:
    return json.loads(options_to_json(options))


def _transports(credential: dict) -> list[str]:
    found = (credential.get("response") or {}).get("transports") if isinstance(credential, dict) else None
    return [t for t in found if isinstance(t, str) and t in _TRANSPORTS][:8] if isinstance(found, list) else []


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(id=_unb64(passkey.credential_id),
                                         transports=[AuthenticatorTransport(t) for t in passkey.transports or []])


# -- registration (sign-up, and adding a passkey) ------------------------------------------------

def _registration_options(challenge: bytes, handle: str, email: str, name: str, exclude: list[Passkey]) -> dict:
    rp_id, _origin = relying_party()
    return _options_json(generate_registration_options(
        rp_id=rp_id, rp_name=RP_NAME, user_id=_unb64(handle), user_name=email, user_display_name=name,
        challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,  # discoverable: sign in without typing the email
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[_descriptor(p) for p in exclude]))


def _verify_registration(credential: dict, challenge: str):
    rp_id, origin = relying_party()
    try:
        return verify_registration_response(credential=credential, expected_challenge=_unb64(challenge),
                                            expected_rp_id=rp_id, expected_origin=origin,
                                            require_user_verification=True)
    except _UNREADABLE as error:
        current_app.logger.info("passkey registration refused: %s", error)
        raise RelbuildError("passkey_refused", _("The passkey could not be checked. Try again, or use a password."),
                            status=400)


def _store(user: User, verified, credential: dict, name: str) -> Passkey:
    passkey = Passkey(user_id=user.id, credential_id=_b64(verified.credential_id),
                      public_key=verified.credential_public_key, sign_count=verified.sign_count,
                      transports=_transports(credential), name=(" ".join(name.split()) or "Passkey")[:NAME_MAX],
                      backed_up=bool(verified.credential_backed_up))
    db.session.add(passkey)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise RelbuildError("passkey_taken", _("This passkey is already registered."), status=409)
    return passkey


def begin_signup(name: str, email: str, timezone: str = "UTC") -> dict:
    """Options to create a passkey for a new account. The same whether or not the address is taken."""
    _require_available()
    name = " ".join((name or "").split())
    if not name:
        raise RelbuildError("name_required", _("Tell people your name."), "name")
    if len(name) > 80:
        raise RelbuildError("name_long", _("Use at most 80 characters."), "name")
    email = normalize_email(email or "")
    handle = _b64(secrets.token_bytes(32))
    challenge = _new_challenge("signup", data={"name": name, "email": email, "timezone": (timezone or "UTC")[:64],
                                               "handle": handle})
    return _registration_options(challenge, handle, email, name, [])


def finish_signup(credential: dict, device: str = "", language: str = "en") -> tuple[User | None, str]:
    """(the new account with its passkey, or None when the address is taken, and the address asked for).

    A taken address's owner gets an email instead, and no passkey is kept.

    The passkey is checked before the address is looked up, so both answers take the same work.
    """
    _require_available()
    row = _take_challenge(credential, "signup")
    verified = _verify_registration(credential, row.challenge)
    data = row.data or {}
    try:
        user = register_user(data.get("name", ""), data.get("email", ""), None, data.get("timezone") or "UTC",
                             commit=False, language=language)
    except RelbuildError as error:
        if error.code != "email_taken":
            raise
        owner = find_user_by_email(data.get("email", ""))
        if owner is not None and owner.password_hash != DELETED:
            queue_account_email(SIGNUP_ATTEMPT, owner, once_within=timedelta(days=1))
            db.session.commit()
        return None, data.get("email", "")
    user.passkey_handle = data.get("handle")
    _store(user, verified, credential, device or "Passkey")
    queue_account_email(CONFIRM_EMAIL, user)
    db.session.commit()
    return user, user.email


def begin_add(user: User, password: str = "") -> dict:
    """Options to add a passkey to the signed-in account, after the password (or a fresh passkey) again."""
    _require_available()
    confirm_password(user, password)
    if user.passkey_handle is None:
        user.passkey_handle = _b64(secrets.token_bytes(32))
        db.session.commit()
    challenge = _new_challenge("add", user=user)
    return _registration_options(challenge, user.passkey_handle, user.email, user.name, list_passkeys(user))


def finish_add(user: User, credential: dict, device: str = "") -> Passkey:
    """Keep the new passkey the browser made for the signed-in account."""
    _require_available()
    row = _take_challenge(credential, "add", user)
    verified = _verify_registration(credential, row.challenge)
    passkey = _store(user, verified, credential, device or "Passkey")
    db.session.commit()
    return passkey


# -- authentication (sign-in, and re-authentication) ----------------------------------------------

def begin_login() -> dict:
    """Options for signing in with a discoverable passkey: no email asked, no account named."""
    _require_available()
    rp_id, _origin = relying_party()
    challenge = _new_challenge("login")
    return _options_json(generate_authentication_options(
        rp_id=rp_id, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED))


def _verify_assertion(credential: dict, challenge: str) -> Passkey:
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str) or not raw_id or len(raw_id) > 1400:
        raise RelbuildError("passkey_invalid", _("The browser's answer could not be read. Try again."), status=400)
    passkey = db.session.scalar(sa.select(Passkey).where(Passkey.credential_id == raw_id.rstrip("=")))
    if passkey is None:
        raise RelbuildError("passkey_unknown", _("This passkey is not registered here (or was removed). Log in with your email and password, or sign up."), status=401)
    user_handle = credential["response"].get("userHandle")
    if user_handle is not None and not isinstance(user_handle, str):
        raise RelbuildError("passkey_invalid", _("The browser's answer could not be read. Try again."), status=400)
    if user_handle and user_handle.rstrip("=") != (passkey.user.passkey_handle or ""):
        raise RelbuildError("passkey_unknown", _("This passkey belongs to another account."), status=401)
    rp_id, origin = relying_party()
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=_unb64(challenge), expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count, require_user_verification=True)
    except _UNREADABLE as error:
        current_app.logger.info("passkey sign-in refused: %s", error)
        raise RelbuildError("passkey_refused", _("The passkey could not be checked. Try again, or log in with your password."), status=401)
    # The counter moves from the value that was checked, or not at all (a parallel use of a clone).
    moved = db.session.execute(sa.update(Passkey).where(Passkey.id == passkey.id,
                                                        Passkey.sign_count == passkey.sign_count)
                               .values(sign_count=verified.new_sign_count, last_used_at=utcnow(),
                                       backed_up=bool(verified.credential_backed_up))).rowcount
    db.session.commit()
    if moved != 1:
        raise RelbuildError("passkey_refused", _("The passkey could not be checked. Try again."), status=401)
    return passkey


def finish_login(credential: dict) -> User:
    """The account a passkey signs in; RelbuildError 401 when the passkey is unknown, removed or fails."""
    _require_available()
    row = _take_challenge(credential, "login")
    passkey = _verify_assertion(credential, row.challenge)
    user = passkey.user
    if user.deleted_at is not None or user.password_hash in (DELETED, UNCLAIMED):
        raise RelbuildError("passkey_unknown", _("This passkey is not registered here."), status=401)
    return user


def begin_reauth(user: User) -> dict:
    """Options to prove again, with one of this account's passkeys, that the signed-in person is its owner."""
    _require_available()
    passkeys = list_passkeys(user)
    if not passkeys:
        raise RelbuildError("no_passkey", _("This account has no passkey yet."), status=409)
    rp_id, _origin = relying_party()
    challenge = _new_challenge("reauth", user=user)
    return _options_json(generate_authentication_options(
        rp_id=rp_id, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[_descriptor(p) for p in passkeys],
        user_verification=UserVerificationRequirement.REQUIRED))


def finish_reauth(user: User, credential: dict) -> None:
    """Mark this sign-in as freshly re-authenticated (sensitive changes accept it for a few minutes)."""
    _require_available()
    row = _take_challenge(credential, "reauth", user)
    passkey = _verify_assertion(credential, row.challenge)
    if passkey.user_id != user.id:
        raise RelbuildError("passkey_unknown", _("This passkey belongs to another account."), status=401)
    db.session.execute(sa.update(LoginSession).where(LoginSession.id == user.session_id)
                       .values(reauth_at=utcnow()))
    db.session.commit()


# -- the account page ------------------------------------------------------------------------------

def list_passkeys(user: User) -> list[Passkey]:
    return list(db.session.scalars(sa.select(Passkey).where(Passkey.user_id == user.id)
                                   .order_by(Passkey.created_at, Passkey.id)))


def has_password(user: User) -> bool:
    return not user.password_hash.startswith("!")


def _own(user: User, public_id: str) -> Passkey:
    passkey = db.session.scalar(sa.select(Passkey).where(Passkey.user_id == user.id, Passkey.public_id == public_id))
    if passkey is None:
        raise RelbuildError("passkey_gone", _("That passkey was already removed."), status=404)
    return passkey


def rename_passkey(user: User, public_id: str, name: str) -> Passkey:
    passkey = _own(user, public_id)
    name = " ".join((name or "").split())
    if not name:
        raise RelbuildError("name_required", _("Give the passkey a name, like the phone it is on."), "name")
    if len(name) > NAME_MAX:
        raise RelbuildError("name_long", _("Use at most %(name_max)s characters.", name_max=NAME_MAX), "name")
    passkey.name = name
    db.session.commit()
    return passkey


def remove_passkey(user: User, public_id: str, password: str = "") -> Passkey:
    """Remove one of the account's passkeys after re-authentication; never the last way to sign in."""
    passkey = _own(user, public_id)
    if not has_password(user) and len(list_passkeys(user)) <= 1:
        raise RelbuildError("last_passkey", _("This passkey is the only way to sign in to your account, so it stays. Add another passkey first (or set a password with “Forgot your password?” on the log-in page)."), status=409)
    confirm_password(user, password)
    db.session.delete(passkey)
    db.session.commit()
    return passkey


def forget_unproven(user: User) -> None:
    """Before an address is confirmed from its inbox by a password reset: drop the passkeys made before that
    (whoever made them never showed they read that inbox). The caller commits."""
    if user.email_confirmed_at is None:
        db.session.execute(sa.delete(Passkey).where(Passkey.user_id == user.id))

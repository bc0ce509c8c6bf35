"""Web Push: device subscriptions, and follow-up prompts pushed to them by the worker (never by a request).

A subscription belongs to one account and one sign-in session (signing out removes it). Its endpoint
is a URL a browser chose, which the worker will POST to: only the known push services' https origins
are accepted, plus PUSH_ALLOWED_ORIGINS. Payloads are encrypted with aes128gcm (RFC 8291) and signed
with VAPID (RFC 8292) by pywebpush / py-vapid.

Pushes have their own outbox (push_deliveries: one row per prompt and device), claimed the way
prompts are, so several workers never push the same prompt to the same device twice, and a dead
device never holds up the email.
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app, url_for
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import LoginSession, Note, Prompt, PushDelivery, PushSubscription, User, utcnow
from .errors import RelbuildError
from ..i18n import format_moment, gettext as _, in_language, lazy_gettext as _l

# The push services of the browsers people carry (Chrome/Android/Edge-on-Chromium, Firefox, Safari, Windows).
KNOWN_PUSH_HOSTS = ("fcm.googleapis.com", "updates.push.services.mozilla.com", "web.push.apple.com")
KNOWN_PUSH_SUFFIXES = (".notify.windows.com",)
MAX_ENDPOINT = 1000
PUSH_TTL = 4 * 24 * 3600  # a phone switched off for a long weekend still gets Monday's prompt
PUSH_TIMEOUT = 10  # seconds for one push service request
MAX_ATTEMPTS = 12  # as for email: about a day of backoff
BATCH = 500
CHANNELS = {"both": _l("Email and notifications"), "push": _l("Notifications only"), "email": _l("Email only")}


# ------------------------------------------------------------------------------------------------
# Keys

@lru_cache(maxsize=4)
def _vapid_for(private_key: str):
    from py_vapid import Vapid

    if private_key.startswith("-----BEGIN"):
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key=private_key)


def vapid():
    """The py-vapid signer made from VAPID_PRIVATE_KEY (or the key kept in the instance folder)."""
    return _vapid_for(current_app.config["VAPID_PRIVATE_KEY"])


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key() -> str:
    """The VAPID public key as browsers want it for applicationServerKey: an uncompressed P-256 point, base64url."""
    point = vapid().public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point)


# ------------------------------------------------------------------------------------------------
# Subscriptions

def endpoint_allowed(endpoint: str) -> bool:
    """Whether the worker may POST to this endpoint: a known push service over https, or an allowed origin."""
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT:
        return False
    if any(ord(c) <= 32 or c in "\\\x7f" for c in endpoint):
        return False
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if origin in current_app.config["PUSH_ALLOWED_ORIGINS"]:
        return True
    host = parts.hostname.lower()
    known = host in KNOWN_PUSH_HOSTS or any(host.endswith(s) and len(host) > len(s) for s in KNOWN_PUSH_SUFFIXES)
    return parts.scheme == "https" and port in (None, 443) and known


def _b64_bytes(value, size: int | None, field: str) -> str:
    problem = RelbuildError("bad_keys", _("keys.p256dh and keys.auth must be the browser's base64url keys."), field,
                            status=422)
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        raise problem
    try:
        raw = base64.urlsafe_b64decode(value.strip().rstrip("=") + "=" * (-len(value.strip().rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise problem
    if size is not None and len(raw) != size:
        raise problem
    if field == "p256dh":
        try:  # a point on P-256, or nobody could decrypt what we send
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise problem
    return b64url(raw)


def subscribe(user: User, data) -> PushSubscription:
    """Keep a browser's PushSubscription.toJSON() for this account and this sign-in session.

    The same endpoint again (the same browser) replaces what was kept for it, whoever it was for:
    a browser has one subscription, and it follows whoever is signed in on it now.
    """
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise RelbuildError("bad_subscription", _("Send the browser's subscription: endpoint and keys."), status=422)
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint_allowed(endpoint):
        raise RelbuildError("endpoint_not_allowed", _("That push endpoint is not one of the push services we send to."),
                            "endpoint", status=422)
    p256dh = _b64_bytes(data["keys"].get("p256dh"), 65, "p256dh")
    auth = _b64_bytes(data["keys"].get("auth"), 16, "auth")
    db.session.execute(sa.delete(PushSubscription).where(PushSubscription.endpoint == endpoint))
    subscription = PushSubscription(user_id=user.id, session_id=user.session_id, endpoint=endpoint, p256dh=p256dh,
                                    auth=auth)
    db.session.add(subscription)
    try:
        db.session.commit()
    except IntegrityError:  # the same browser sent it twice at once: the other request kept it
        db.session.rollback()
        subscription = db.session.scalar(sa.select(PushSubscription).where(PushSubscription.endpoint == endpoint))
        if subscription is None or subscription.user_id != user.id:
            raise RelbuildError("busy", _("Try again in a moment."), status=409)
    return subscription


def unsubscribe(user: User, endpoint) -> None:
    """Forget one of this account's devices by its endpoint (nothing happens for another account's)."""
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT:
        raise RelbuildError("bad_endpoint", _("Send the subscription's endpoint."), "endpoint", status=422)
    db.session.execute(sa.delete(PushSubscription).where(PushSubscription.user_id == user.id,
                                                         PushSubscription.endpoint == endpoint))
    db.session.commit()


def device_subscribed(user: User) -> bool:
    """Whether the browser of the current sign-in gets notifications."""
    return db.session.scalar(sa.select(PushSubscription.id).where(
        PushSubscription.session_id == user.session_id).limit(1)) is not None


def set_channel(user: User, channel: str) -> None:
    """Choose how prompts arrive: email and notifications, notifications only, or email only (the caller commits)."""
    if channel not in CHANNELS:
        raise RelbuildError("bad_channel", _("Choose how your follow-ups reach you."), "prompt_channel")
    user.prompt_channel = channel


# ------------------------------------------------------------------------------------------------
# The worker's side

def _live_sessions(wall: datetime):
    from .accounts import session_limits

    idle, lifetime = session_limits()
    return sa.select(LoginSession.id).where(LoginSession.last_seen_at > wall - idle,
                                            LoginSession.created_at > wall - lifetime)


def forget_expired(wall: datetime) -> int:
    """Remove subscriptions whose sign-in has expired (signing out already removed theirs with the session)."""
    gone = db.session.execute(sa.delete(PushSubscription).where(PushSubscription.session_id.not_in(
        _live_sessions(wall)))).rowcount
    db.session.commit()
    return gone


def queue_pushes(prompts: list[Prompt], now: datetime, wall: datetime) -> int:
    """Add a push for each prompt to each device of its author signed in now; how many devices they have.

    Called for prompts this worker has claimed; a prompt seen again (its email is being retried) is
    not pushed again to a device that already has it.
    """
    user_id = prompts[0].user_id
    devices = list(db.session.scalars(sa.select(PushSubscription.id).where(
        PushSubscription.user_id == user_id, PushSubscription.session_id.in_(_live_sessions(wall)))))
    if not devices:
        return 0
    have = set(db.session.execute(sa.select(PushDelivery.prompt_id, PushDelivery.subscription_id).where(
        PushDelivery.prompt_id.in_([p.id for p in prompts]))).all())
    new = [PushDelivery(prompt_id=p.id, subscription_id=d, next_attempt_at=now)
           for p in prompts for d in devices if (p.id, d) not in have]
    if new:
        db.session.add_all(new)
        try:
            db.session.commit()
        except IntegrityError:  # a device removed at this moment, or a second worker after a lease ran out
            db.session.rollback()
    return len(devices)


HEADLINES = {
    "digest": _l("From your notes"),
    "offer_check": _l("Your offer"),
    "reconnect": _l("Keep in touch"),
    "reminder": _l("Reminder"),
}


def _one_line(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def payload(prompt: Prompt) -> dict:
    """What the notification shows and does: the person, one line, the note's context, two actions; in the
    recipient's language."""
    with in_language(prompt.user.language if prompt.user is not None else None):
        return _payload(prompt)


def _payload(prompt: Prompt) -> dict:
    from .delivery import write_link
    from .followups import local_date
    from .links import action_token, opaque_id

    note: Note = prompt.note
    person: User = note.subject
    author: User = prompt.user
    if prompt.kind == "offer_check" and note.offer:
        line = _("You offered: %(offer)s. Did you?", offer=_one_line(note.offer, 80))
    elif prompt.kind == "reconnect":
        line = _("How is it going with %(name)s?", name=person.name)
    elif note.offer:
        line = _("You offered: %(offer)s", offer=_one_line(note.offer, 80))
    else:
        line = str(HEADLINES.get(prompt.kind, _("Follow up")))
    day = format_moment(local_date(author, note.met_at), "day_short")
    if note.event is not None:
        context = _("Met %(event)s, %(day)s: %(note)s", event=note.event.name, day=day, note=_one_line(note.body, 110))
    else:
        context = _("Met %(day)s: %(note)s", day=day, note=_one_line(note.body, 110))
    return {
        "title": person.name,
        "body": f"{line}\n{context}",
        "url": url_for("followups.index", _external=True),
        "person_url": url_for("people.person", public_id=person.public_id, _external=True),
        "tag": "prompt-" + opaque_id("prompt", prompt.id),
        "kind": prompt.kind,
        "snoozed": _("We will remind you in a week."),
        "actions": [
            {"action": "write", "title": _("Write to them"), "url": write_link(note, author)},
            {"action": "snooze", "title": _("Remind me in a week"),
             "url": url_for("followups.email_action", token=action_token(prompt.id, "snooze"), _external=True)},
        ],
    }


class _NoRedirects(requests.Session):
    """A push service answers; it never sends us elsewhere (a redirect would undo the endpoint check)."""

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


@dataclass
class PushResult:
    pushed: int = 0
    removed: int = 0  # devices the push service says are gone (404/410)
    retrying: int = 0
    failed: int = 0


def _claim(now: datetime, token: str, wall: datetime, lease: timedelta) -> list[PushDelivery]:
    claimable = sa.or_(
        sa.and_(PushDelivery.status == "pending", PushDelivery.next_attempt_at <= now),
        sa.and_(PushDelivery.status == "sending", PushDelivery.claimed_at < wall - lease),
    )
    picked = sa.select(PushDelivery.id).where(claimable).order_by(PushDelivery.next_attempt_at, PushDelivery.id)
    picked = picked.limit(BATCH)
    if db.engine.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    db.session.execute(sa.update(PushDelivery).where(claimable, PushDelivery.id.in_(picked))
                       .values(status="sending", claimed_at=wall, claim_token=token)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.scalars(
        sa.select(PushDelivery).where(PushDelivery.claim_token == token, PushDelivery.status == "sending")
        .options(joinedload(PushDelivery.subscription),
                 joinedload(PushDelivery.prompt).joinedload(Prompt.user),
                 joinedload(PushDelivery.prompt).joinedload(Prompt.note).joinedload(Note.subject),
                 joinedload(PushDelivery.prompt).joinedload(Prompt.note).joinedload(Note.event))
        .order_by(PushDelivery.id)).unique())


def _set(delivery: PushDelivery, token: str, **values) -> None:
    db.session.execute(sa.update(PushDelivery).where(PushDelivery.id == delivery.id,
                                                     PushDelivery.claim_token == token)
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


def send_one(subscription: PushSubscription, data: dict, session: requests.Session | None = None):
    """Encrypt (aes128gcm) and POST one push, signed with VAPID; raises pywebpush.WebPushException."""
    from pywebpush import webpush

    return webpush(
        subscription_info={"endpoint": subscription.endpoint,
                           "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
        data=json.dumps(data, ensure_ascii=False),
        vapid_private_key=vapid(),
        vapid_claims={"sub": current_app.config["VAPID_SUBJECT"]},  # aud: the endpoint's origin; exp: 12 h
        content_encoding="aes128gcm", ttl=PUSH_TTL, timeout=PUSH_TIMEOUT, requests_session=session,
        headers={"Urgency": "normal", "Topic": data["tag"][-32:]},
    )


def send_due_pushes(now: datetime, lease: timedelta, backoff) -> PushResult:
    """Push every delivery due at `now`, each once; 404/410 removes the device, 429/5xx is retried with `backoff`."""
    from pywebpush import WebPushException

    result = PushResult()
    token = secrets.token_hex(16)
    with _NoRedirects() as session:
        session.trust_env = False  # no proxy from the environment between us and the push service
        while deliveries := _claim(now, token, utcnow(), lease):
            for delivery in deliveries:
                subscription, prompt = delivery.subscription, delivery.prompt
                attempts = delivery.attempts + 1
                if prompt.action is not None:  # done or snoozed in the meantime: nothing to remind
                    _set(delivery, token, status="skipped", attempts=attempts)
                    continue
                try:
                    send_one(subscription, payload(prompt), session)
                except WebPushException as error:
                    status = error.status_code or 0
                    if status in (404, 410):
                        db.session.execute(sa.delete(PushSubscription).where(PushSubscription.id == subscription.id))
                        db.session.commit()
                        result.removed += 1
                        _email_instead(prompt, now)
                        continue
                    transient = status == 429 or status >= 500
                    _retry_or_fail(delivery, token, now, attempts, f"push service answered {status}", transient,
                                   backoff, result)
                    continue
                except (requests.RequestException, OSError) as error:
                    _retry_or_fail(delivery, token, now, attempts, f"{error.__class__.__name__}: {error}", True,
                                   backoff, result)
                    continue
                _set(delivery, token, status="sent", attempts=attempts, sent_at=utcnow(), last_error=None)
                result.pushed += 1
    return result


def _retry_or_fail(delivery, token, now, attempts, message, transient, backoff, result) -> None:
    if transient and attempts < MAX_ATTEMPTS:
        _set(delivery, token, status="pending", attempts=attempts, last_error=message[:500],
             next_attempt_at=now + backoff(attempts))
        result.retrying += 1
    else:
        _set(delivery, token, status="failed", attempts=attempts, last_error=message[:500])
        result.failed += 1
        _email_instead(delivery.prompt, now)
    current_app.logger.warning("push %s: %s", delivery.id, message)


def _email_instead(prompt: Prompt, now: datetime) -> None:
    """A prompt that went out only as pushes, and no push of it can arrive any more: email it after all.

    Back to pending, the next pass finds no device for it and emails it (a dead push never costs the prompt).
    """
    if prompt.user.prompt_channel != "push":
        return  # it was emailed as well (or only)
    alive = sa.select(PushDelivery.id).where(PushDelivery.prompt_id == prompt.id,
                                             PushDelivery.status.in_(("pending", "sending", "sent")))
    if db.session.scalar(alive.limit(1)) is None:
        db.session.execute(sa.update(Prompt).where(Prompt.id == prompt.id, Prompt.status == "sent",
                                                   Prompt.action.is_(None))
                           .values(status="pending", next_attempt_at=now, sent_at=None))
        db.session.commit()

"""Signed links in emails (prompt actions, one-click unsubscribe) and opaque ids for what leaves the server."""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, Serializer, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from .errors import RelbuildError
from ..i18n import gettext as _

ACTION_MAX_AGE = 60 * 24 * 3600  # prompt links work for 60 days
ACTIONS = ("done", "snooze")


class _Short:
    """Payloads of a few bytes, never zlib-compressed: compressing one costs more than signing it (zlib sets up
    its window every time) and never made these shorter, so the links are the same; `loads` reads both."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class _ShortTimed(_Short, URLSafeTimedSerializer):
    pass


class _ShortUntimed(_Short, URLSafeSerializer):
    pass


@lru_cache(maxsize=8)
def _serializer(secret: str, salt: str, timed: bool = True) -> URLSafeSerializer:
    """Built once per key and salt (a follow-up pass signs three links an email)."""
    return (_ShortTimed if timed else _ShortUntimed)(secret, salt=salt)


def _timed(salt: str) -> URLSafeTimedSerializer:
    return _serializer(current_app.config["SECRET_KEY"], salt)


def action_token(prompt_id: int, action: str) -> str:
    return _timed("prompt-action").dumps({"p": prompt_id, "a": action})


def read_action_token(token: str) -> tuple[int, str]:
    """(prompt id, action) from a link, or RelbuildError when forged or expired."""
    try:
        data = _timed("prompt-action").loads(token, max_age=ACTION_MAX_AGE)
    except SignatureExpired:
        raise RelbuildError("link_expired", _("This link has expired. Open Relbuild to see your follow-ups."),
                            status=410)
    except BadSignature:
        raise RelbuildError("link_invalid", _("This link is not valid. Open Relbuild to see your follow-ups."),
                            status=404)
    if not isinstance(data, dict) or data.get("a") not in ACTIONS or not isinstance(data.get("p"), int):
        raise RelbuildError("link_invalid", _("This link is not valid."), status=404)
    return data["p"], data["a"]


def unsubscribe_token(public_id: str) -> str:
    # Unsubscribe links never expire: an old email must still be able to stop the next one.
    return _serializer(current_app.config["SECRET_KEY"], "unsubscribe", timed=False).dumps(public_id)


def read_unsubscribe_token(token: str) -> str:
    try:
        return _serializer(current_app.config["SECRET_KEY"], "unsubscribe", timed=False).loads(token)
    except BadSignature:
        raise RelbuildError("link_invalid", _("This unsubscribe link is not valid."), status=404)


def opaque_id(kind: str, number: int) -> str:
    """A stable stand-in for a database id in what leaves the server (Message-IDs, calendar UIDs).

    Sequential ids would tell a recipient how many prompts everyone together has had.
    """
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()[:32]

"""JSON API for the phone's offline outbox: replay-safe note writes."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .extensions import limiter
from .services import RelbuildError
from .services.accounts import outbox_key
from .services import push
from .services.notes import coach_note, sync_note
from .i18n import gettext as _
from .identity import core_connection, identity

bp = Blueprint("api", __name__, url_prefix="/api")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def error(code: str, message: str, status: int):
    return jsonify(error=code, message=message), status


@bp.route("/csrf")
def csrf_token():
    """A fresh CSRF token, fetched by the outbox before each flush (a phone may replay hours later)."""
    signed_in = current_user.is_authenticated
    response = jsonify(token=generate_csrf(), signed_in=signed_in, account=outbox_key(current_user) if signed_in else "")
    response.headers["Cache-Control"] = "no-store"
    return response


def _met_at(value) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise RelbuildError("bad_met_at", _("met_at must be an ISO 8601 time."), "met_at")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise RelbuildError("bad_met_at", _("met_at must be an ISO 8601 time."), "met_at")
    if moment.year < 2000:  # a phone clock never set; also keeps time-zone arithmetic in range
        raise RelbuildError("bad_met_at", _("met_at must be a time after 2000."), "met_at")
    return moment


@bp.route("/notes/<note_id>", methods=["PUT"])
@limiter.limit("120/minute")
def put_note(note_id: str):
    """Create or update my one note about the badge's owner; the same id again is the same note."""
    author = identity()  # (no account object: the write runs in SQL on the request's connection)
    if author is None:
        return error("not_signed_in", _("Log in again to sync your notes; they are kept on this phone."), 401)
    note_id = note_id.lower()
    if not UUID.fullmatch(note_id):
        return error("bad_id", _("The note id must be a UUID."), 400)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error("bad_json", _("Send a JSON object with badge, body, offer and met_at."), 400)
    fields = {name: data.get(name, "") for name in ("badge", "body", "offer")}
    if not all(isinstance(value, str) for value in fields.values()):
        return error("bad_field", _("badge, body and offer must be text."), 422)
    try:
        met_at = _met_at(data.get("met_at"))
        note, person = sync_note(core_connection(), author, fields["badge"], fields["body"], fields["offer"],
                                 met_at=met_at, write_id=note_id)
    except RelbuildError as problem:
        status = 422 if problem.status == 400 else problem.status
        return jsonify(error=problem.code, message=problem.message, field=problem.field), status
    return jsonify(id=note.id, person=person, body=note.body, offer=note.offer,
                   hint=coach_note(note.body)), 201 if note.created else 200


# Web Push: this device's subscription (the worker sends the pushes; see services/push.py).

def _signed_in_problem():
    return error("not_signed_in", _("Log in to get notifications on this device."), 401)


@bp.route("/push/vapid-public-key")
def push_public_key():
    """The key browsers subscribe with (applicationServerKey)."""
    if not current_user.is_authenticated:
        return _signed_in_problem()
    return jsonify(key=push.public_key())


@bp.route("/push/subscriptions", methods=["POST"])
@limiter.limit("30/minute")
def push_subscribe():
    """Keep this browser's PushSubscription.toJSON() for me and this sign-in."""
    if not current_user.is_authenticated:
        return _signed_in_problem()
    try:
        subscription = push.subscribe(current_user, request.get_json(silent=True))
    except RelbuildError as problem:
        return jsonify(error=problem.code, message=problem.message, field=problem.field), problem.status
    return jsonify(endpoint=subscription.endpoint), 201


@bp.route("/push/subscriptions", methods=["DELETE"])
@limiter.limit("30/minute")
def push_unsubscribe():
    """Stop notifications to one of my devices, named by its endpoint."""
    if not current_user.is_authenticated:
        return _signed_in_problem()
    data = request.get_json(silent=True)
    try:
        push.unsubscribe(current_user, data.get("endpoint") if isinstance(data, dict) else None)
    except RelbuildError as problem:
        return jsonify(error=problem.code, message=problem.message, field=problem.field), problem.status
    return "", 204

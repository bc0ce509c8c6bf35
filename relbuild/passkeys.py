"""Passkeys: the JSON steps of each WebAuthn ceremony, and the account page's rename and remove forms.

Each ceremony is two POSTs (CSRF token in the X-CSRFToken header, as for the notes API): one for
the options the browser hands to navigator.credentials, one with the browser's answer.
"""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from .auth import local_path, sign_in
from .extensions import limiter
from .services import RelbuildError
from .services.accounts import describe_device
from .services.passkeys import (begin_add, begin_login, begin_reauth, begin_signup, finish_add, finish_login,
                                finish_reauth, finish_signup, relying_party, remove_passkey, rename_passkey,
                                unavailable_reason)
from .i18n import current_language, gettext as _

bp = Blueprint("passkeys", __name__)



def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise RelbuildError("bad_json", _("Send a JSON object."), status=400)
    return data


def _text(data: dict, name: str, limit: int = 300) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise RelbuildError("bad_field", _("%(name)s must be text.", name=name), name, status=422)
    return value[:limit]


def _credential(data: dict) -> dict:
    credential = data.get("credential")
    if not isinstance(credential, dict) or not isinstance(credential.get("response"), dict):
        raise RelbuildError("passkey_invalid", _("Send the browser's credential as JSON."), status=400)
    return credential


def _device() -> str:
    return describe_device(request.headers.get("User-Agent", ""))


def _answer(step):
    """Run one step; a RelbuildError becomes the API's JSON error."""
    try:
        return step()
    except RelbuildError as problem:
        status = 422 if problem.status == 400 and problem.field else problem.status
        return jsonify(error=problem.code, message=problem.message, field=problem.field), status


def _signed_in_only():
    if not current_user.is_authenticated:
        return jsonify(error="not_signed_in", message=_("Log in again, then try once more.")), 401
    return None


@bp.route("/api/passkeys/signup/options", methods=["POST"])
@limiter.limit("600/hour")  # as /register
def signup_options():
    def step():
        data = _json()
        return jsonify(begin_signup(_text(data, "name", 200), _text(data, "email", 254), _text(data, "timezone", 64)))
    return _answer(step)


@bp.route("/api/passkeys/signup", methods=["POST"])
@limiter.limit("600/hour")
def signup():
    def step():
        data = _json()
        user, email = finish_signup(_credential(data), _device(), current_language())
        # The same answer whether or not the address was free: only a new account is signed in.
        if user is not None:
            sign_in(user)
        flash(_("Welcome to Relbuild! We sent an email to %(email)s. Open it to confirm your address (or, if you "
                "already had an account, to log in).", email=email), "success")
        target = local_path(_text(data, "next", 2000))
        return jsonify(redirect=url_for("profile.edit", next=target) if target else url_for("profile.edit"))
    return _answer(step)


@bp.route("/api/passkeys/login/options", methods=["POST"])
@limiter.limit("300/minute")  # as /login
def login_options():
    return _answer(lambda: jsonify(begin_login()))


@bp.route("/api/passkeys/login", methods=["POST"])
@limiter.limit("300/minute")
def login():
    def step():
        data = _json()
        user = finish_login(_credential(data))
        sign_in(user)  # the same fresh session, server-side row and device name as a password sign-in
        return jsonify(redirect=local_path(_text(data, "next", 2000)) or url_for("people.index"))
    return _answer(step)


@bp.route("/api/passkeys/reauth/options", methods=["POST"])
@limiter.limit("60/minute")
def reauth_options():
    return _signed_in_only() or _answer(lambda: jsonify(begin_reauth(current_user)))


@bp.route("/api/passkeys/reauth", methods=["POST"])
@limiter.limit("60/minute")
def reauth():
    def step():
        finish_reauth(current_user, _credential(_json()))
        return "", 204
    return _signed_in_only() or _answer(step)


@bp.route("/api/passkeys/add/options", methods=["POST"])
@limiter.limit("30/minute")
def add_options():
    return _signed_in_only() or _answer(
        lambda: jsonify(begin_add(current_user, _text(_json(), "password", 256))))


@bp.route("/api/passkeys", methods=["POST"])
@limiter.limit("30/minute")
def add():
    def step():
        passkey = finish_add(current_user, _credential(_json()), _device())
        flash(_("Passkey added: “%(name)s”. You can rename it below.", name=passkey.name), "success")
        return jsonify(redirect=url_for("account.index", _anchor="passkeys-heading"), id=passkey.public_id), 201
    return _signed_in_only() or _answer(step)


@bp.route("/account/passkeys/<public_id>/rename", methods=["POST"])
@login_required
def rename(public_id: str):
    try:
        passkey = rename_passkey(current_user, public_id, request.form.get("name", "")[:200])
        flash(_("Passkey renamed “%(name)s”.", name=passkey.name), "success")
    except RelbuildError as error:
        flash(error.message, "error")
    return redirect(url_for("account.index", _anchor="passkeys-heading"))


@bp.route("/account/passkeys/<public_id>/remove", methods=["POST"])
@login_required
def remove(public_id: str):
    try:
        passkey = remove_passkey(current_user, public_id, request.form.get("password", "")[:256])
        flash(_("Passkey “%(name)s” removed: it no longer signs in to your account.", name=passkey.name), "success")
    except RelbuildError as error:  # a used-up password allowance too: said like a wrong password
        flash(error.message, "error")
    return redirect(url_for("account.index", _anchor="passkeys-heading"))


@bp.app_context_processor
def _passkey_helpers():
    return {"passkeys_off": unavailable_reason, "passkey_origin": lambda: relying_party()[1]}

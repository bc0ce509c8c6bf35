"""Confirming an email address from the link sent to it, and asking for a new link."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .extensions import limiter
from .services import RelbuildError
from .services.verification import (cancel_email_change, confirm_address, needs_passkey_to_confirm, read_confirmation,
                                    send_confirmation)
from .i18n import gettext as _

bp = Blueprint("verification", __name__)


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def confirm(token: str):
    """GET shows the address and one button (mail scanners open links); POST confirms it."""
    signed_in = current_user if current_user.is_authenticated else None
    try:
        user, address = read_confirmation(token)
        needs_passkey = needs_passkey_to_confirm(user, signed_in)
        if request.method == "POST" and not needs_passkey:
            user = confirm_address(token, signed_in)
            return render_template("verification/confirmed.html", address=user.email)
    except RelbuildError as error:
        return render_template("error.html", code=error.status, title=_("This link does not work"),
                               message=error.message), error.status
    status = 403 if request.method == "POST" else 200  # a POST that could not confirm says so
    return render_template("verification/confirm.html", address=address, token=token,
                           needs_passkey=needs_passkey), status


@bp.route("/account/email/confirmation", methods=["POST"])
@login_required
@limiter.limit("10/hour")
def resend():
    address = current_user.pending_email or current_user.email
    if send_confirmation(current_user):
        flash(_("We sent a new link to %(address)s. It works for a week.", address=address), "success")
    else:
        flash(_("A link to %(address)s went out a moment ago: give it a minute, and look in the spam folder too.", address=address),
              "info")
    return redirect(url_for("account.index", _anchor="email-heading"))


@bp.route("/account/email/cancel", methods=["POST"])
@login_required
def cancel_change():
    cancel_email_change(current_user)
    flash(_("Your email stays %(email)s.", email=current_user.email), "success")
    return redirect(url_for("account.index", _anchor="email-heading"))

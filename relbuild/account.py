"""My account: email, password, my data (export, calendar feed) and deleting it all."""
from flask import Blueprint, Response, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user

from .extensions import limiter
from .forms import DeleteAccountForm, EmailChangeForm, PasswordChangeForm, run_form
from .services import RelbuildError
from .services.accounts import active_sessions, change_password, end_session_of, sign_out_elsewhere
from .services.verification import is_confirmed, request_email_change
from .services.calendar_feed import disable_feed, enable_feed, feed_ics, user_for_feed
from .services.deletion import delete_account
from .services.export import export_zip
from .i18n import gettext as _
from .services.passkeys import has_password, list_passkeys

bp = Blueprint("account", __name__)


def _page(status: int = 200, **forms):
    forms = {"email_form": EmailChangeForm(prefix="email"), "password_form": PasswordChangeForm(prefix="password"),
             "delete_form": DeleteAccountForm(prefix="delete"), **forms}
    return render_template("account/index.html", sessions=active_sessions(current_user),
                           confirmed=is_confirmed(current_user), passkeys=list_passkeys(current_user),
                           has_password=has_password(current_user), **forms), status


@bp.route("/account")
@login_required
def index():
    return _page()


@bp.route("/account/email", methods=["POST"])
@login_required
def email():
    form = EmailChangeForm(prefix="email")
    outcome = run_form(form, lambda: request_email_change(current_user, form.email.data, form.password.data))
    if outcome.ok:
        if outcome.value == current_user.email:
            flash(_("Your email is already %(email)s.", email=current_user.email), "info")
        else:
            # The same words whether or not another account uses that address.
            flash(_("We sent a link to %(value)s. Your email changes when you open it; until then it stays %(email)s.",
                    value=outcome.value, email=current_user.email), "success")
        return redirect(url_for("account.index", _anchor="email-heading"))
    return _page(outcome.status, email_form=form)


@bp.route("/account/password", methods=["POST"])
@login_required
def password():
    form = PasswordChangeForm(prefix="password")
    outcome = run_form(form, lambda: change_password(current_user, form.current_password.data,
                                                     form.new_password.data))
    if outcome.ok:
        flash(_("Password changed. Every other device was signed out."), "success")
        return redirect(url_for("account.index"))
    return _page(outcome.status, password_form=form)


@bp.route("/account/sessions/<public_id>/end", methods=["POST"])
@login_required
def end_one_session(public_id: str):
    if end_session_of(current_user, public_id):
        flash(_("That device was signed out."), "success")
    else:
        flash(_("That device was already signed out."), "info")
    return redirect(url_for("account.index", _anchor="devices-heading"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    sign_out_elsewhere(current_user)
    flash(_("Every other device was signed out."), "success")
    return redirect(url_for("account.index"))


@bp.route("/account/export.zip")
@login_required
@limiter.limit("10/minute")
def export():
    response = Response(export_zip(current_user), mimetype="application/zip")
    response.headers["Content-Disposition"] = 'attachment; filename="relbuild-export.zip"'
    return response


@bp.route("/account/calendar", methods=["POST"])
@login_required
def calendar_on():
    enable_feed(current_user)
    flash(_("Your calendar link is ready. Any earlier link no longer works."), "success")
    return redirect(url_for("account.index", _anchor="calendar"))


@bp.route("/account/calendar/off", methods=["POST"])
@login_required
def calendar_off():
    disable_feed(current_user)
    flash(_("Calendar link turned off."), "success")
    return redirect(url_for("account.index", _anchor="calendar"))


@bp.route("/calendar/<token>.ics")
@limiter.limit("60/minute")
def calendar_feed(token: str):
    try:
        user = user_for_feed(token)
    except RelbuildError as error:
        return Response(error.message + "\n", status=error.status, mimetype="text/plain")
    response = Response(feed_ics(user), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete():
    form = DeleteAccountForm(prefix="delete")
    outcome = run_form(form, lambda: delete_account(current_user, form.password.data, form.confirm.data))
    if outcome.ok:
        logout_user()
        session.clear()
        flash(_("Your account and your notes were deleted. Thank you for trying Relbuild."), "success")
        return redirect(url_for("pages.home"))
    return _page(outcome.status, delete_form=form)

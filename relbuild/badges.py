"""My badge, its QR code, and connecting by badge link or short code."""
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .extensions import limiter
from .forms import ConfirmPasswordForm, ConnectForm, NoteForm, run_form
from .services import RelbuildError
from .services.accounts import confirm_password
from .services.passkeys import has_password
from .services.badges import (badge_by_short_code, badge_by_token, badge_url, format_short_code, qr_png, qr_svg,
                              replace_badge)
from .services.notes import coach_note, note_about, save_note, save_note_by_badge
from .services.profiles import values_for_viewer
from .i18n import gettext as _
from .identity import core_connection, identity

bp = Blueprint("badges", __name__)


def _qr_response(body, mimetype: str, extension: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-cache"
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="relbuild-badge.{extension}"'
    return response


@bp.route("/badge")
@login_required
def mine():
    return _mine_page(ConfirmPasswordForm())


def _mine_page(replace_form: ConfirmPasswordForm, status: int = 200):
    badge = current_user.current_badge
    return render_template("badges/mine.html", badge=badge, link=badge_url(badge.token), replace_form=replace_form,
                           short_code=format_short_code(badge.short_code),
                           has_password=has_password(current_user)), status


@bp.route("/badge/qr.svg")
@login_required
def qr_as_svg():
    return _qr_response(qr_svg(badge_url(current_user.current_badge.token)), "image/svg+xml", "svg")


@bp.route("/badge/qr.png")
@login_required
def qr_as_png():
    return _qr_response(qr_png(badge_url(current_user.current_badge.token)), "image/png", "png")


@bp.route("/badge/replace", methods=["POST"])
@login_required
def replace():
    form = ConfirmPasswordForm()
    outcome = run_form(form, lambda: confirm_password(current_user, form.password.data) or replace_badge(current_user))
    if outcome.ok:
        flash(_("Your badge was replaced. The old QR code and code no longer work."), "success")
        return redirect(url_for("badges.mine"))
    return _mine_page(form, outcome.status)


@bp.route("/connect", methods=["GET", "POST"])
@limiter.limit("60/minute", methods=["POST"])
def connect():
    form = ConnectForm()
    outcome = run_form(form, lambda: badge_by_short_code(form.code.data))
    if outcome.ok:
        return redirect(url_for("badges.person", token=outcome.value.token))
    return render_template("badges/connect.html", form=form), outcome.status


@bp.route("/c/<token>", methods=["GET", "POST"])
@limiter.limit("120/minute")
def person(token: str):
    author = identity() if request.method == "POST" else None
    if author is not None:
        # The common case, a note saved from this page, without loading the page's objects (nor the
        # author's account); anything else (a refusal to show next to a field, an unknown or own badge)
        # takes the full way below.
        try:
            saved = save_note_by_badge(core_connection(), author, token, request.form.get("body", ""),
                                       request.form.get("offer", ""))
        except RelbuildError:
            saved = None
        if saved is not None:
            return _saved(url_for("badges.person", token=token))
    try:
        badge = badge_by_token(token)
    except RelbuildError as error:
        return render_template("badges/unknown.html", error=error), error.status
    subject = badge.user
    viewer = current_user if current_user.is_authenticated else None
    context = {"person": subject, "values": values_for_viewer(subject, viewer), "token": token}
    if viewer is None:
        if request.method == "POST":  # e.g. signed out in another tab: keep them on the way back here
            return redirect(url_for("auth.login", next=request.path))
        return render_template("badges/person.html", **context)
    if viewer.id == subject.id:
        return render_template("badges/own.html", **context)
    return note_page(subject, "badges/person.html", url_for("badges.person", token=token), context)


def _saved(here: str):
    # The page says so when it comes back (`saved_status`): the answer to a save writes no cookie.
    return redirect(f"{here}?saved=1")


def saved_status(note, name: str) -> tuple[str, str]:
    """(category, message) shown like a flash on the page a note was just saved from."""
    hint = coach_note(note.body)
    if hint:
        return "hint", _("Note about %(name)s saved. Tip: %(hint)s", name=name, hint=hint)
    return "success", _("Note about %(name)s saved.", name=name)


def note_page(subject, template: str, here: str, context: dict):
    """Show and save the viewer's one note about `subject` (shared by badge links and person pages).

    A saved note shows read-only with an Edit link (`?edit=1`); the form shows when there is no note
    yet, when editing, and when a save failed.
    """
    note = note_about(current_user, subject)
    form = NoteForm(obj=note)
    outcome = run_form(form, lambda: save_note(current_user, subject, form.body.data, form.offer.data or ""))
    if outcome.ok:
        return _saved(here)
    editing = note is None or request.method == "POST" or request.args.get("edit") == "1"
    status = saved_status(note, subject.name) if note is not None and request.args.get("saved") == "1" else None
    return render_template(template, form=form, note=note, action=here, editing=editing,
                           edit_url=f"{here}?edit=1#note", saved_status=status, **context), outcome.status

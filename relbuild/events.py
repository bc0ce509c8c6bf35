"""Events: create and edit, join by poster QR or code, and the organizer's tools."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .extensions import limiter
from .forms import EventCodeForm, EventForm, ImportForm, OrganizerForm, run_form, show_error
from .services import RelbuildError
from .services.badges import badge_url, format_short_code
from .services.events import (attendee_badges, create_event, event_by_code, event_for, event_when, has_joined,
                              invite_organizer, is_organizer, join_event, local_input, my_events, organizers,
                              update_event)
from .services.imports import PREVIEW_PAGE, confirm, import_for, preview, summary_of
from .services.invitations import invitations_left, limits, outstanding, outstanding_count, waiting_for
from .services.outcomes import CLIP, MIN_GROUP, attendee_rows, outcomes
from .services.verification import is_confirmed
from .services.printing import badge_sheet, poster
from .services.spreadsheets import csv_text
from .i18n import gettext as _, in_language


bp = Blueprint("events", __name__)


def _event_or_error(event_id: int, *, organizer: bool = False):
    try:
        return event_for(current_user, event_id, organizer=organizer)
    except RelbuildError as error:
        abort(error.status)


def join_url(event) -> str:
    return f"{current_app.config['BASE_URL']}/e/{event.join_code}"


def _save_event(form: EventForm, event=None):
    fields = dict(name=form.name.data, venue=form.venue.data, starts_at=form.starts_at.data,
                  ends_at=form.ends_at.data, timezone=form.timezone.data, description=form.description.data,
                  language=form.language.data)
    return update_event(event, **fields) if event else create_event(current_user, **fields)


@bp.route("/events")
@login_required
def index():
    return _index(EventCodeForm())


def _index(form: EventCodeForm, status: int = 200):
    return render_template("events/index.html", events=my_events(current_user), form=form,
                           invitations=waiting_for(current_user), confirmed=is_confirmed(current_user)), status


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new():
    form = EventForm()
    if request.method == "GET":
        form.timezone.data = current_user.timezone
        form.language.data = current_user.language  # posters and badge sheets print in the organizer's, unless chosen
    outcome = run_form(form, lambda: _save_event(form))
    if outcome.ok:
        flash(_("Event created. Print the poster so people can join."), "success")
        return redirect(url_for("events.show", event_id=outcome.value.id))
    return render_template("events/form.html", form=form, event=None), outcome.status


@bp.route("/events/<int:event_id>")
@login_required
def show(event_id: int):
    event = _event_or_error(event_id)
    organizing = is_organizer(current_user, event)
    return render_template("events/show.html", event=event, organizing=organizing,
                           joined=has_joined(current_user, event), when=event_when(event, current_user),
                           join_link=join_url(event), code=format_short_code(event.join_code),
                           organizers=organizers(event) if organizing else [],
                           invited_organizers=outstanding(event) if organizing else [],
                           invited_attendees=outstanding_count(event) if organizing else 0,
                           confirmed=is_confirmed(current_user), organizer_form=OrganizerForm())


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    # Only a first view starts from the stored event: a posted form must not fall back to its datetimes.
    form = EventForm(obj=event if request.method == "GET" else None)
    if request.method == "GET":
        form.starts_at.data, form.ends_at.data = local_input(event, event.starts_at), local_input(event, event.ends_at)
    outcome = run_form(form, lambda: _save_event(form, event))
    if outcome.ok:
        flash(_("Event saved."), "success")
        return redirect(url_for("events.show", event_id=event.id))
    return render_template("events/form.html", form=form, event=event), outcome.status


@bp.route("/events/<int:event_id>/organizers", methods=["POST"])
@login_required
@limiter.limit("60/hour")
def add_co_organizer(event_id: int):
    """Invite a co-organizer by email: the same answer whether or not the address has an account."""
    event = _event_or_error(event_id, organizer=True)
    form = OrganizerForm()
    if form.validate_on_submit():
        try:
            email = invite_organizer(event, current_user, form.email.data)
        except RelbuildError as error:
            flash(error.message, "error")
        else:
            flash(_("An invitation is on its way to %(email)s. They become an organizer when they accept.", email=email), "success")
    else:
        flash(_("Enter the email address of the person to invite."), "error")
    return redirect(url_for("events.show", event_id=event.id) + "#organizers")


@bp.route("/events/join", methods=["POST"])
@login_required
@limiter.limit("30/minute")
def join_by_code():
    form = EventCodeForm()
    if form.validate_on_submit():
        try:
            return redirect(url_for("events.join", code=event_by_code(form.code.data).join_code))
        except RelbuildError as error:
            show_error(form, error)
    return _index(form, 422)


@bp.route("/e/<code>", methods=["GET", "POST"])
@limiter.limit("60/minute")
def join(code: str):
    try:
        event = event_by_code(code)
    except RelbuildError as error:
        return render_template("error.html", code=404, title=_("No such event"), message=error.message), 404
    signed_in = current_user.is_authenticated
    if request.method == "POST":
        if not signed_in:
            return redirect(url_for("auth.login", next=request.path))
        if join_event(current_user, event):
            flash(_("You joined %(name)s. Show your badge and scan the people you talk to.", name=event.name), "success")
        return redirect(url_for("events.show", event_id=event.id))
    if signed_in and (has_joined(current_user, event) or is_organizer(current_user, event)):
        return redirect(url_for("events.show", event_id=event.id))
    return render_template("events/join.html", event=event, when=event_when(event, current_user if signed_in else None))


@bp.route("/events/<int:event_id>/poster.pdf")
@login_required
def poster_pdf(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    try:
        with in_language(event.language):  # printed in the event's language, whoever prints it
            pdf = poster(name=event.name, venue=event.venue, when=event_when(event), join_url=join_url(event),
                         code=event.join_code, size=request.args.get("size", "a4"))
    except RelbuildError as error:
        abort(error.status)
    return _pdf(pdf, f"poster-{event.join_code}.pdf")


@bp.route("/events/<int:event_id>/badges.pdf")
@login_required
def badges_pdf(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    badges = [(name, headline, badge_url(token), code)
              for name, headline, token, code in attendee_badges(event, set(request.args.getlist("attendee")))]
    try:
        with in_language(event.language):
            pdf = badge_sheet(badges, event_name=event.name, size=request.args.get("size", "a4"))
    except RelbuildError as error:
        abort(error.status)
    return _pdf(pdf, f"badges-{event.join_code}.pdf")


def _pdf(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.route("/events/<int:event_id>/attendees")
@login_required
def attendees(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    return render_template("events/attendees.html", event=event, rows=attendee_rows(event))


@bp.route("/events/<int:event_id>/attendees.csv")
@login_required
def attendees_csv(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    text = csv_text(["name", "email", "joined"],  # who is there, never what anyone did
                    ([user.name, user.email, local_input(event, joined_at)] for user, joined_at in attendee_rows(event)))
    response = Response(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="attendees-{event.join_code}.csv"'
    return response


@bp.route("/events/<int:event_id>/import", methods=["GET", "POST"])
@login_required
@limiter.limit("60/hour", methods=["POST"])
def import_upload(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    form = ImportForm()
    confirmed = is_confirmed(current_user)
    if confirmed:
        outcome = run_form(form, lambda: preview(event, current_user, form.file.data.read()))
        if outcome.ok:  # the preview's first page (CONTRACT: the answer is the page whose form confirms)
            return _preview_page(event, outcome.value, page=1)
    else:
        outcome = run_form(form, lambda: None)
        outcome.status = 403 if form.is_submitted() else 200
    return render_template("events/import.html", event=event, form=form, confirmed=confirmed,
                           per_day=limits()[0], per_event=limits()[1]), outcome.status


def _batch_or_error(event, import_id: str):
    try:
        return import_for(event, import_id)
    except RelbuildError as error:
        abort(error.status)


@bp.route("/events/<int:event_id>/import/<import_id>")
@login_required
def import_preview(event_id: int, import_id: str):
    """Every row of the file and what confirming does with it, a page at a time; nothing is sent yet."""
    event = _event_or_error(event_id, organizer=True)
    batch = _batch_or_error(event, import_id)
    if batch.finished_at is not None:
        return render_template("events/import_done.html", event=event, summary=batch.summary)
    return _preview_page(event, batch, request.args.get("page", 1, type=int))


def _preview_page(event, batch, page: int):
    pages = max(1, -(-len(batch.rows) // PREVIEW_PAGE))
    page = min(max(page, 1), pages)
    counts = summary_of(batch.rows)
    return render_template("events/import_preview.html", event=event, batch=batch, counts=counts,
                           rows=batch.rows[(page - 1) * PREVIEW_PAGE:page * PREVIEW_PAGE], page=page, pages=pages,
                           left=invitations_left(current_user, event))


@bp.route("/events/<int:event_id>/import/<import_id>", methods=["POST"])
@login_required
def import_confirm(event_id: int, import_id: str):
    event = _event_or_error(event_id, organizer=True)
    batch = _batch_or_error(event, import_id)
    try:
        confirm(batch, current_user)
    except RelbuildError as error:
        flash(error.message, "error")
    return redirect(url_for("events.import_preview", event_id=event.id, import_id=batch.id), 303)


@bp.route("/events/<int:event_id>/dashboard")
@login_required
def dashboard(event_id: int):
    event = _event_or_error(event_id, organizer=True)
    return render_template("events/dashboard.html", event=event, numbers=outcomes(event), min_group=MIN_GROUP,
                           clip=CLIP, when=event_when(event, current_user))

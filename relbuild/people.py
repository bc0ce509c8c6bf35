"""My people: everyone I keep a note about, and everyone who connected with me."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .badges import note_page
from .services import RelbuildError
from .services.events import my_events
from .services.followups import log_follow_up
from .services.notes import connected_with_me, my_people, note_about, note_history, person_for
from .services.profiles import values_for_viewer
from .i18n import gettext as _

bp = Blueprint("people", __name__)


@bp.route("/people")
@login_required
def index():
    query = request.args.get("q", "")[:100]
    events = [event for event, joined, _ in my_events(current_user) if joined]
    event_id = request.args.get("event", type=int)
    if event_id not in {event.id for event in events}:
        event_id = None
    return render_template("people/index.html", entries=my_people(current_user, query, event_id), query=query,
                           events=events, event_id=event_id,
                           waiting=[] if query or event_id else connected_with_me(current_user))


@bp.route("/people/<public_id>", methods=["GET", "POST"])
@login_required
def person(public_id: str):
    try:
        subject = person_for(current_user, public_id)
    except RelbuildError as error:
        return render_template("badges/unknown.html", error=error), error.status
    note = note_about(current_user, subject)
    context = {"person": subject, "values": values_for_viewer(subject, current_user),
               "history": note_history(note) if note else []}
    return note_page(subject, "people/person.html", url_for("people.person", public_id=public_id), context)


@bp.route("/people/<public_id>/followed-up", methods=["POST"])
@login_required
def followed_up(public_id: str):
    """Log a follow-up from the person page: the offer counts as kept, reminders restart from today."""
    try:
        subject = person_for(current_user, public_id)
    except RelbuildError as error:
        return render_template("badges/unknown.html", error=error), error.status
    note = note_about(current_user, subject)
    if note is None:
        flash(_("Write your note about %(name)s first.", name=subject.name), "info")
    else:
        log_follow_up(note)
        flash(_("Logged your follow-up with %(name)s. We will check in again in a month.", name=subject.name), "success")
    return redirect(url_for("people.person", public_id=public_id))

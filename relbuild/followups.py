"""The Follow-ups tab, prompt actions from email links, and one-click unsubscribe."""
import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .extensions import csrf, db
from .forms import PromptSettingsForm, run_form
from .models import User
from .services import RelbuildError
from .services.followups import followups_for, mark_done, prompt_by_id, snooze, unsubscribe as stop_emails
from .services.delivery import write_link
from .services.followups import update_settings
from .services.links import read_action_token, read_unsubscribe_token
from .i18n import gettext as _, lazy_gettext as _l
from .services.push import device_subscribed

bp = Blueprint("followups", __name__)
APPLY = {"done": mark_done, "snooze": snooze}
DONE_MESSAGES = {"done": _l("Marked as followed up. Nicely done."), "snooze": _l("We will remind you in a week.")}


@bp.route("/followups", methods=["GET", "POST"])
@login_required
def index():
    form = PromptSettingsForm(obj=current_user)
    outcome = run_form(form, lambda: update_settings(current_user, email_prompts=form.email_prompts.data,
                                                     prompt_hour=form.prompt_hour.data,
                                                     channel=form.prompt_channel.data))
    if outcome.ok:
        flash(_("Follow-up settings saved."), "success")
        return redirect(url_for("followups.index"))
    due, upcoming = followups_for(current_user)
    return render_template("followups/index.html", due=due, upcoming=upcoming, form=form,
                           write_link=lambda note: write_link(note, current_user),
                           push_on=device_subscribed(current_user)), outcome.status


@bp.route("/followups/<int:prompt_id>/<any(done, snooze):action>", methods=["POST"])
@login_required
def act(prompt_id: int, action: str):
    try:
        prompt = prompt_by_id(prompt_id, owner=current_user)
    except RelbuildError as error:
        return render_template("error.html", code=404, title="Not found", message=error.message), 404
    APPLY[action](prompt)
    flash(str(DONE_MESSAGES[action]), "success")
    return redirect(url_for("followups.index"))


@bp.route("/f/<token>", methods=["GET", "POST"])
def email_action(token: str):
    """An action link from an email: GET shows one button, POST does it (no sign-in needed)."""
    try:
        prompt_id, action = read_action_token(token)
        prompt = prompt_by_id(prompt_id)  # the signed link stands for its owner
    except RelbuildError as error:
        return render_template("error.html", code=error.status, title=_("This link does not work"),
                               message=error.message), error.status
    if request.method == "POST":
        APPLY[action](prompt)
        return render_template("followups/action_done.html", prompt=prompt, action=action,
                               message=str(DONE_MESSAGES[action]))
    return render_template("followups/action.html", prompt=prompt, action=action)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click: mail providers POST without cookies or a form token
def unsubscribe(token: str):
    try:
        public_id = read_unsubscribe_token(token)
    except RelbuildError as error:
        return render_template("error.html", code=404, title=_("This link does not work"), message=error.message), 404
    user = db.session.scalar(sa.select(User).where(User.public_id == public_id))
    if user is None:
        return render_template("error.html", code=404, title=_("Nothing to unsubscribe"),
                               message=_("This account no longer exists, so it gets no emails.")), 404
    if request.method == "POST":
        stop_emails(user)
        return render_template("followups/unsubscribed.html")
    return render_template("followups/unsubscribe.html", token=token)

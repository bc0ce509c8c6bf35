"""Answering an invitation: from the emailed link (with or without an account), or in the app."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from .auth import sign_in
from .extensions import limiter
from .forms import AcceptInvitationForm, run_form
from .services import RelbuildError
from .services.accounts import DELETED, find_user_by_email, register_user
from .services.events import event_when
from .services.invitations import ATTENDEE, accept, decline, invitation_for, invitation_for_token
from .i18n import current_language, gettext as _


bp = Blueprint("invitations", __name__)


def _unusable(error: RelbuildError):
    return render_template("error.html", code=error.status, title=_("This invitation does not work"),
                           message=error.message), error.status


def _page(invitation, token: str, form: AcceptInvitationForm, status: int = 200):
    owner = find_user_by_email(invitation.email)
    needs_account = not current_user.is_authenticated and (owner is None or owner.password_hash == DELETED)
    return render_template("invitations/show.html", invitation=invitation, event=invitation.event,
                           when=event_when(invitation.event, current_user if current_user.is_authenticated
                                           else None),
                           token=token, form=form, needs_account=needs_account), status


def _joined(invitation) -> str:
    event = invitation.event
    if invitation.role == ATTENDEE:
        flash(_("You joined %(name)s. Show your badge and scan the people you talk to.", name=event.name), "success")
    else:
        flash(_("You are now an organizer of %(name)s.", name=event.name), "success")
    return url_for("events.show", event_id=event.id)


@bp.route("/invitations/<token>")
@limiter.limit("60/minute")
def show(token: str):
    """The emailed link: who invites you to what, and yes or no."""
    try:
        invitation = invitation_for_token(token)
    except RelbuildError as error:
        return _unusable(error)
    return _page(invitation, token, AcceptInvitationForm(name=invitation.name))


@bp.route("/invitations/<token>/accept", methods=["POST"])
@limiter.limit("30/minute")
def accept_from_email(token: str):
    try:
        invitation = invitation_for_token(token)
    except RelbuildError as error:
        return _unusable(error)
    if invitation.status != "pending":
        return redirect(url_for("invitations.show", token=token))
    if current_user.is_authenticated:
        accept(invitation, current_user, from_email=True)
        return redirect(_joined(invitation))
    owner = find_user_by_email(invitation.email)
    if owner is not None and owner.password_hash != DELETED:
        # The link proves the address is theirs; signing in still takes their password.
        accept(invitation, owner, from_email=True)
        _joined(invitation)
        return redirect(url_for("auth.login", next=url_for("events.show", event_id=invitation.event_id)))
    form = AcceptInvitationForm()
    outcome = run_form(form, lambda: register_user(form.name.data, invitation.email, form.password.data,
                                                   form.timezone.data, confirmed=True,
                                                   language=current_language()))
    if not outcome.ok:
        return _page(invitation, token, form, outcome.status or 422)
    accept(invitation, outcome.value)
    sign_in(outcome.value)
    return redirect(url_for("profile.edit", next=_joined(invitation)))


@bp.route("/invitations/<token>/decline", methods=["POST"])
@limiter.limit("30/minute")
def decline_from_email(token: str):
    try:
        invitation = invitation_for_token(token)
    except RelbuildError as error:
        return _unusable(error)
    decline(invitation)
    return render_template("invitations/declined.html", event=invitation.event)


@bp.route("/events/invitations/<int:invitation_id>/<any(accept, decline):answer>", methods=["POST"])
@login_required
def answer_in_app(invitation_id: int, answer: str):
    try:
        invitation = invitation_for(current_user, invitation_id)
    except RelbuildError as error:
        return _unusable(error)
    if answer == "decline":
        decline(invitation)
        flash(_("Invitation to %(name)s declined. The organizers are not told.", name=invitation.event.name), "success")
        return redirect(url_for("events.index"))
    accept(invitation, current_user)
    return redirect(_joined(invitation))

"""The short, genuine profile."""
from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import refresh
from flask_login import current_user, login_required

from .auth import safe_next
from .forms import ProfileForm, run_form
from .services.profiles import SUGGESTED_VALUES, update_profile
from .i18n import gettext as _

bp = Blueprint("profile", __name__)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def edit():
    form = ProfileForm(obj=current_user)  # fields missing from a post keep their saved values
    outcome = run_form(form, lambda: update_profile(
        current_user, name=form.name.data, headline=form.headline.data, values=form.values.data,
        can_help_with=form.can_help_with.data, looking_for=form.looking_for.data, timezone=form.timezone.data,
        share_email=form.share_email.data, language=form.language.data))
    if outcome.ok:
        refresh()  # the confirmation is already in the language just chosen
        flash(_("Profile saved."), "success")
        return redirect(safe_next("badges.mine"))
    return render_template("profile/edit.html", form=form, suggestions=SUGGESTED_VALUES,
                           next=request.values.get("next", "")), outcome.status

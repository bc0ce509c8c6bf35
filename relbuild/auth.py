"""Sign up, log in, log out."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .extensions import limiter, login_manager
from .forms import ClaimForm, ForgotPasswordForm, LoginForm, RegisterForm, run_form, show_error
from .services import RelbuildError
from .services.accounts import (authenticate, claim_account, end_session, load_session_user, register_user,
                                request_password_reset, reset_password as set_password_from_link, start_session,
                                user_for_claim, user_for_reset)

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(session_id: str):
    return load_session_user(session_id)


def safe_next(default: str = "people.index") -> str:
    """The local page to return to after signing in (never another site)."""
    target = request.values.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(default)


def _sign_in(user) -> None:
    session.clear()  # a fresh session at sign-in, nothing carried over from before
    login_user(start_session(user))


def _form_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("600/hour", methods=["POST"])  # per address, and a whole fair may share one venue address
def register():
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = register_user(form.name.data, form.email.data, form.password.data, form.timezone.data)
        except RelbuildError as error:
            if error.code != "email_taken":
                show_error(form, error)
            else:
                # Same words whether or not the address is known; an existing owner who typed
                # their own password is simply signed in.
                existing = authenticate(form.email.data, form.password.data)
                if existing is not None:
                    _sign_in(existing)
                    return redirect(safe_next())
                form.form_errors.append(
                    "We could not create an account with these details. "
                    "If you already have one, log in instead.")
            status = 422
        else:
            _sign_in(user)
            flash("Welcome to Relbuild! Write a few lines about yourself, then show your badge.", "success")
            return redirect(url_for("profile.edit", next=safe_next()) if request.values.get("next")
                            else url_for("profile.edit"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/register.html", form=form, next=request.values.get("next", "")), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("300/minute", methods=["POST"])
@limiter.limit("10/5 minutes", methods=["POST"], key_func=_form_email)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            _sign_in(user)
            return redirect(safe_next())
        form.form_errors.append("That email and password do not match an account. Check both and try again.")
        status = 401
    elif form.is_submitted():
        status = 422
    return render_template("auth/login.html", form=form, next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_session(current_user.get_id())
    logout_user()
    session.clear()
    flash("You are logged out.", "success")
    return redirect(url_for("pages.home"))


@bp.route("/claim/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def claim(token: str):
    """An invitation link: the invited person chooses a password and is signed in."""
    try:
        user = user_for_claim(token)
    except RelbuildError as error:
        return render_template("error.html", code=error.status, title="This invitation link does not work",
                               message=error.message), error.status
    form = ClaimForm()
    outcome = run_form(form, lambda: claim_account(token, form.password.data))
    if outcome.ok:
        _sign_in(outcome.value)
        flash("Welcome! Check your profile, then show your badge at the event.", "success")
        return redirect(url_for("profile.edit"))
    return render_template("auth/claim.html", form=form, user=user), outcome.status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
@limiter.limit("5/hour", methods=["POST"], key_func=_form_email)
def forgot_password():
    form = ForgotPasswordForm()
    outcome = run_form(form, lambda: request_password_reset(form.email.data))
    if outcome.ok:
        # The same answer whether or not the address has an account.
        return render_template("auth/forgot_sent.html", email=form.email.data)
    return render_template("auth/forgot.html", form=form), outcome.status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def reset_password(token: str):
    try:
        user = user_for_reset(token)
    except RelbuildError as error:
        return render_template("auth/reset_invalid.html", error=error), error.status
    form = ClaimForm()
    outcome = run_form(form, lambda: set_password_from_link(token, form.password.data))
    if outcome.ok:
        _sign_in(outcome.value)
        flash("Your password was changed, and every other device was signed out.", "success")
        return redirect(url_for("people.index"))
    return render_template("auth/reset.html", form=form, user=user), outcome.status

"""Sign up, log in, log out, forgotten passwords."""
from urllib.parse import quote, urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .extensions import limiter, login_manager
from .i18n import current_language, gettext as _
from .forms import ForgotPasswordForm, LoginForm, NewPasswordForm, RegisterForm, run_form
from .services import RelbuildError
from .services.accounts import (authenticate, describe_device, end_session, load_session_user,
                                request_password_reset, reset_password as set_password_from_link, sign_up,
                                start_session, user_for_reset)

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(session_id: str):
    return load_session_user(session_id)


def local_path(target: str) -> str | None:
    """`target` as a path on this site, or None when it could lead anywhere else.

    Browsers drop tabs and line breaks inside URLs and read a backslash as a slash, so
    "/\t/evil.example" or "/\\evil.example" would leave the site: anything holding a control
    character or backslash is refused, and what is left is percent-encoded.
    """
    if not target or any(ord(c) < 32 or c in "\\\x7f" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return quote(target, safe="/?&=#%:@!$'()*+,;~-._")


def safe_next(default: str = "people.index") -> str:
    """The local page to return to after signing in (never another site)."""
    return local_path(request.values.get("next", "")) or url_for(default)


def sign_in(user) -> None:
    """Sign this browser in as the user: a fresh session, a server-side row, a cookie that lasts."""
    session.clear()  # nothing carried over from before
    session.permanent = True  # the server-side row decides when it ends (idle and absolute limits)
    login_user(start_session(user, describe_device(request.headers.get("User-Agent", ""))))


def _form_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("600/hour", methods=["POST"])  # per address, and a whole fair may share one venue address
def register():
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = RegisterForm()
    outcome = run_form(form, lambda: sign_up(form.name.data, form.email.data, form.password.data,
                                             form.timezone.data, language=current_language()))
    if outcome.ok:
        # The same answer whether or not the address was free: only a new account is signed in,
        # and the owner of a taken address hears about it by email.
        if outcome.value is not None:
            sign_in(outcome.value)
        flash(_("Welcome to Relbuild! We sent an email to %(email)s. Open it to confirm your address (or, if you "
                "already had an account, to log in).", email=form.email.data.strip()), "success")
        return redirect(url_for("profile.edit", next=safe_next()) if request.values.get("next")
                        else url_for("profile.edit"))
    return render_template("auth/register.html", form=form, next=request.values.get("next", "")), outcome.status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("300/minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = LoginForm()
    outcome = run_form(form, lambda: authenticate(form.email.data, form.password.data))
    if outcome.ok and outcome.value is not None:
        sign_in(outcome.value)
        return redirect(safe_next())
    if outcome.status == 429:
        abort(429)
    if outcome.ok:
        form.form_errors.append(_("That email and password do not match an account. Check both and try again."))
        outcome.status = 401
    return render_template("auth/login.html", form=form, next=request.values.get("next", "")), outcome.status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_session(current_user.get_id())
    logout_user()
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(url_for("pages.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
@limiter.limit("5/hour", methods=["POST"], key_func=lambda: f"forgot:{_form_email()}")
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
    form = NewPasswordForm()
    outcome = run_form(form, lambda: set_password_from_link(token, form.password.data))
    if outcome.ok:
        sign_in(outcome.value)
        flash(_("Your password was changed, and every other device was signed out."), "success")
        return redirect(url_for("people.index"))
    return render_template("auth/reset.html", form=form, user=user), outcome.status

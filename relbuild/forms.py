"""Flask-WTF forms: every POST carries csrf_token. Domain rules are checked in services."""
from collections.abc import Callable
from dataclasses import dataclass

import flask_wtf
from flask import request
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import (BooleanField, EmailField, HiddenField, PasswordField, RadioField, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, Optional

from .services import RelbuildError
from .services.notes import BODY_MAX, OFFER_MAX
from .services.profiles import timezone_names


class FlaskForm(flask_wtf.FlaskForm):
    """Flask-WTF's form, reading only what an HTML form posts: text fields get text, file fields files.

    Flask-WTF would hand a text field a file posted under its name, or a JSON body's lists and
    numbers; text fields and the services behind them then fail on a non-string (a 500).
    """

    class Meta:
        def wrap_formdata(self, form, formdata):
            posted = super().wrap_formdata(form, formdata)
            if posted is None or posted is formdata:  # not submitted, or data the caller chose
                return posted
            uploads = MultiDict([(field.name, upload) for field in form if isinstance(field, FileField)
                                 for upload in request.files.getlist(field.name)])
            return CombinedMultiDict((uploads, request.form))


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Tell people your name."), Length(max=80)])
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Choose a password."), Length(max=256)])
    timezone = HiddenField(validators=[Optional(), Length(max=64)])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=256)])


class CommaListField(StringField):
    """Comma-separated text; a stored list (the profile's values) becomes that text, also when the
    field is missing from a post, so that it keeps its saved value instead of handing on a list."""

    def process_data(self, value):
        self.data = ", ".join(value) if isinstance(value, list) else value


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Tell people your name."), Length(max=80)])
    headline = StringField("About you, in one line", validators=[Optional(), Length(max=120)])
    values = CommaListField("Values that matter to you in work", validators=[Optional(), Length(max=200)])
    can_help_with = TextAreaField("What you can help others with", validators=[Optional(), Length(max=300)])
    looking_for = TextAreaField("What you are looking for", validators=[Optional(), Length(max=300)])
    timezone = SelectField("Time zone", validators=[Optional()], validate_choice=False)
    share_email = BooleanField("People I connect with may see my email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z.replace("_", " ")) for z in timezone_names()]


class NoteForm(FlaskForm):
    body = TextAreaField("What did you talk about? What stood out?",
                         validators=[DataRequired("Write what you talked about and what stood out."),
                                     Length(max=BODY_MAX, message=f"Keep the note under {BODY_MAX:,} characters.")])
    offer = TextAreaField("What could you do for them?",
                          validators=[Optional(), Length(max=OFFER_MAX,
                                                         message=f"Keep the offer under {OFFER_MAX} characters.")])


class ConnectForm(FlaskForm):
    code = StringField("Badge code", validators=[DataRequired("Type the code printed under their QR."),
                                                  Length(max=32, message="A badge code has 8 letters and digits.")])


class EventCodeForm(FlaskForm):
    """The code on an event's poster (same field name as a badge code, its own label and messages)."""
    code = StringField("Event code", validators=[DataRequired("Type the code printed on the event poster."),
                                                  Length(max=32, message="An event code has 8 letters and digits.")])


@dataclass
class Outcome:
    ok: bool
    value: object = None
    status: int = 200


def run_form(form: FlaskForm, action: Callable[[], object]) -> Outcome:
    """Validate a posted form and run the service call; a refusal lands next to its field.

    `ok` only when the form was posted, valid and the service accepted it; `status` is what to
    render the form again with otherwise (200 for a first view, 422 or the error's own status).
    """
    if not form.is_submitted():
        return Outcome(False)
    if not form.validate():
        return Outcome(False, status=422)
    try:
        return Outcome(True, action())
    except RelbuildError as error:
        show_error(form, error)
        return Outcome(False, status=422 if error.status == 400 else error.status)


def show_error(form: FlaskForm, error: RelbuildError) -> None:
    """Put a service error next to the field it is about (or on the form as a whole)."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


class PromptSettingsForm(FlaskForm):
    email_prompts = BooleanField("Email me my follow-up prompts")
    # Checked by services.push.set_channel; a form without it keeps the saved choice.
    prompt_channel = RadioField("How your follow-ups reach you", validate_choice=False, choices=[
        ("both", "By email and as notifications"), ("push", "As notifications only (email when no device of "
                                                            "yours has them on)"), ("email", "By email only")])
    prompt_hour = SelectField("Send them at", coerce=int, choices=[(h, f"{h:02d}:00") for h in range(24)],
                              validate_choice=False)


class EventForm(FlaskForm):
    name = StringField("Event name", validators=[DataRequired("Give the event a name."), Length(max=120)])
    venue = StringField("Venue", validators=[Optional(), Length(max=200)])
    # Checked by services.events (local time in the event's zone, YYYY-MM-DDTHH:MM). No Length here: it would
    # render maxlength, which a datetime-local input may not carry.
    starts_at = StringField("Starts", render_kw={"type": "datetime-local"},
                            validators=[DataRequired("Pick when it starts.")])
    ends_at = StringField("Ends", render_kw={"type": "datetime-local"},
                          validators=[DataRequired("Pick when it ends.")])
    timezone = SelectField("Time zone", validate_choice=False)
    description = TextAreaField("Description (optional)", validators=[Optional(), Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z.replace("_", " ")) for z in timezone_names()]


class OrganizerForm(FlaskForm):
    email = EmailField("Their email", validators=[DataRequired("Enter their email address."), Length(max=254)])


class ImportForm(FlaskForm):
    file = FileField("Attendee list (CSV)", validators=[FileRequired("Choose a CSV file to upload.")])


class NewPasswordForm(FlaskForm):
    password = PasswordField("Choose a password", validators=[DataRequired("Choose a password."), Length(max=256)])


class AcceptInvitationForm(FlaskForm):
    """Accepting an invitation with no account yet: the account is made for the invited address."""
    name = StringField("Your name", validators=[DataRequired("Tell people your name."), Length(max=80)])
    password = PasswordField("Choose a password", validators=[DataRequired("Choose a password."), Length(max=256)])
    timezone = HiddenField(validators=[Optional(), Length(max=64)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])


class _PasswordOrPasskey:
    """DataRequired, except for an account with passkeys only: it re-authenticates with a passkey instead
    (services.accounts.confirm_password checks that it did, a few minutes ago at most)."""

    def __init__(self, message: str):
        self.required = DataRequired(message)

    def __call__(self, form, field):
        from flask_login import current_user
        from wtforms.validators import StopValidation

        from .services.accounts import PASSKEY_ONLY

        if not field.data and getattr(current_user, "password_hash", None) == PASSKEY_ONLY:
            raise StopValidation()
        self.required(form, field)


def _password_again():
    return PasswordField("Your password", validators=[_PasswordOrPasskey("Enter your password to confirm."),
                                                      Length(max=256)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password."),
                                                                      Length(max=256)])
    new_password = PasswordField("New password", validators=[DataRequired("Choose a new password."),
                                                              Length(max=256)])


class EmailChangeForm(FlaskForm):
    email = EmailField("New email", validators=[DataRequired("Enter the new address."), Length(max=254)])
    password = _password_again()


class ConfirmPasswordForm(FlaskForm):
    """A sensitive action (replacing the badge) asks for the password again."""
    password = _password_again()


class DeleteAccountForm(FlaskForm):
    password = _password_again()
    confirm = StringField("Type DELETE to confirm", validators=[DataRequired("Type DELETE to confirm."),
                                                                Length(max=32)])

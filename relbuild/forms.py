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

from flask_babel.speaklater import LazyString

from .i18n import LANGUAGE_CHOICES, lazy_gettext as _l, number
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
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Tell people your name.")), Length(max=80)])
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Choose a password.")), Length(max=256)])
    timezone = HiddenField(validators=[Optional(), Length(max=64)])


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=256)])


class CommaListField(StringField):
    """Comma-separated text; a stored list (the profile's values) becomes that text, also when the
    field is missing from a post, so that it keeps its saved value instead of handing on a list."""

    def process_data(self, value):
        self.data = ", ".join(value) if isinstance(value, list) else value


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Tell people your name.")), Length(max=80)])
    headline = StringField(_l("About you, in one line"), validators=[Optional(), Length(max=120)])
    values = CommaListField(_l("Values that matter to you in work"), validators=[Optional(), Length(max=200)])
    can_help_with = TextAreaField(_l("What you can help others with"), validators=[Optional(), Length(max=300)])
    looking_for = TextAreaField(_l("What you are looking for"), validators=[Optional(), Length(max=300)])
    timezone = SelectField(_l("Time zone"), validators=[Optional()], validate_choice=False)
    share_email = BooleanField(_l("People I connect with may see my email"))
    language = SelectField(_l("Language"), validators=[Optional()], validate_choice=False,
                           description=_l("Pages, emails and follow-ups come in this language."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z.replace("_", " ")) for z in timezone_names()]
        self.language.choices = LANGUAGE_CHOICES()


class NoteForm(FlaskForm):
    body = TextAreaField(_l("What did you talk about? What stood out?"),
                         validators=[DataRequired(_l("Write what you talked about and what stood out.")),
                                     Length(max=BODY_MAX, message=_l("Keep the note under %(max)s characters.", max=LazyString(number, BODY_MAX)))])
    offer = TextAreaField(_l("What could you do for them?"),
                          validators=[Optional(), Length(max=OFFER_MAX,
                                                         message=_l("Keep the offer under %(max)s characters.", max=OFFER_MAX))])


class ConnectForm(FlaskForm):
    code = StringField(_l("Badge code"), validators=[DataRequired(_l("Type the code printed under their QR.")),
                                                  Length(max=32, message=_l("A badge code has 8 letters and digits."))])


class EventCodeForm(FlaskForm):
    """The code on an event's poster (same field name as a badge code, its own label and messages)."""
    code = StringField(_l("Event code"), validators=[DataRequired(_l("Type the code printed on the event poster.")),
                                                     Length(max=32, message=_l("An event code has 8 letters and digits."))])


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
    email_prompts = BooleanField(_l("Email me my follow-up prompts"))
    # Checked by services.push.set_channel; a form without it keeps the saved choice.
    prompt_channel = RadioField(_l("How your follow-ups reach you"), validate_choice=False, choices=[
        ("both", _l("By email and as notifications")),
        ("push", _l("As notifications only (email when no device of yours has them on)")),
        ("email", _l("By email only"))])
    prompt_hour = SelectField(_l("Send them at"), coerce=int, choices=[(h, f"{h:02d}:00") for h in range(24)],
                              validate_choice=False)


class EventForm(FlaskForm):
    name = StringField(_l("Event name"), validators=[DataRequired(_l("Give the event a name.")), Length(max=120)])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=200)])
    # Checked by services.events (local time in the event's zone, YYYY-MM-DDTHH:MM). No Length here: it would
    # render maxlength, which a datetime-local input may not carry.
    starts_at = StringField(_l("Starts"), render_kw={"type": "datetime-local"},
                            validators=[DataRequired(_l("Pick when it starts."))])
    ends_at = StringField(_l("Ends"), render_kw={"type": "datetime-local"},
                          validators=[DataRequired(_l("Pick when it ends."))])
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    description = TextAreaField(_l("Description (optional)"), validators=[Optional(), Length(max=2000)])
    language = SelectField(_l("Language of the poster and badges"), validators=[Optional()], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z.replace("_", " ")) for z in timezone_names()]
        self.language.choices = LANGUAGE_CHOICES()


class OrganizerForm(FlaskForm):
    email = EmailField(_l("Their email"), validators=[DataRequired(_l("Enter their email address.")), Length(max=254)])


class ImportForm(FlaskForm):
    file = FileField(_l("Attendee list (CSV)"), validators=[FileRequired(_l("Choose a CSV file to upload."))])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(_l("Choose a password.")), Length(max=256)])


class AcceptInvitationForm(FlaskForm):
    """Accepting an invitation with no account yet: the account is made for the invited address."""
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Tell people your name.")), Length(max=80)])
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(_l("Choose a password.")), Length(max=256)])
    timezone = HiddenField(validators=[Optional(), Length(max=64)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])


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
    return PasswordField(_l("Your password"), validators=[_PasswordOrPasskey(_l("Enter your password to confirm.")),
                                                      Length(max=256)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password.")),
                                                                      Length(max=256)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(_l("Choose a new password.")),
                                                              Length(max=256)])


class EmailChangeForm(FlaskForm):
    email = EmailField(_l("New email"), validators=[DataRequired(_l("Enter the new address.")), Length(max=254)])
    password = _password_again()


class ConfirmPasswordForm(FlaskForm):
    """A sensitive action (replacing the badge) asks for the password again."""
    password = _password_again()


class DeleteAccountForm(FlaskForm):
    password = _password_again()
    confirm = StringField(_l("Type DELETE to confirm"), validators=[DataRequired(_l("Type DELETE to confirm.")),
                                                                Length(max=32)])

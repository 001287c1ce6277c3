"""Account forms. They check shape only; the rules live in services.accounts."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional

from webapp.forms_support import Form
from webapp.services.accounts import MIN_PASSWORD_LENGTH

EMAIL = [InputRequired(), Email(check_deliverability=False, message="Enter a valid email address."), Length(max=254)]
NEW_PASSWORD = [Length(min=MIN_PASSWORD_LENGTH, max=256, message=f"Use at least {MIN_PASSWORD_LENGTH} characters.")]


class LoginForm(Form):
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "username"})
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=256)], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField("Keep me signed in on this device")


class EmailOnlyForm(Form):
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "email"})


class SignupForm(Form):
    name = StringField("Your name", validators=[InputRequired(), Length(max=120)], render_kw={"autocomplete": "name"})
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "email"})
    password = PasswordField(
        "Password (optional)",
        validators=[Optional(), *NEW_PASSWORD],
        description="Leave empty to sign in with emailed links only.",
        render_kw={"autocomplete": "new-password"},
    )


class ConfirmForm(Form):
    """A button, so mail scanners that prefetch links change nothing."""


class NewPasswordForm(Form):
    password = PasswordField(
        "New password", validators=[InputRequired(), *NEW_PASSWORD], render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[InputRequired(), EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        "Current password", validators=[Optional(), Length(max=256)], render_kw={"autocomplete": "current-password"}
    )


class ChangeEmailForm(Form):
    email = EmailField("New email", validators=EMAIL, render_kw={"autocomplete": "email"})

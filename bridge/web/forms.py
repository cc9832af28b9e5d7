"""Flask-WTF forms (each carries the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from bridge.services.clients import valid_email


def _email(_form: FlaskForm, field: EmailField) -> None:
    # The same rule the WHMCS API applies (bridge.services.clients), so both doors agree.
    if not valid_email(field.data or ""):
        raise ValidationError("Please enter a valid e-mail address.")


NAME = [DataRequired(message="Please fill this in."), Length(max=100)]


class SignupForm(FlaskForm):
    firstname = StringField("First name", validators=NAME)
    lastname = StringField("Last name", validators=NAME)
    companyname = StringField("Company (optional)", validators=[Optional(), Length(max=200)])
    email = EmailField("E-mail address", validators=[DataRequired(message="Please enter your e-mail address."),
                                                     _email,
                                                     Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(message="Please choose a password.")])


class ConfirmForm(FlaskForm):
    password = PasswordField("Password you chose at sign-up",
                             validators=[DataRequired(message="Please enter your password.")])


class ResendForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(message="Please enter your e-mail address."),
                                                     _email,
                                                     Length(max=254)])


class TermsForm(FlaskForm):
    tos = BooleanField("I accept the Terms of Service")
    postpay = BooleanField("I accept the Post-Pay Terms & Conditions")


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(message="Please enter your e-mail address."),
                                                     Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(message="Please enter your password.")])


class AdminLoginForm(FlaskForm):
    name = StringField("Admin name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A bare form for buttons that POST (carries only the CSRF token and an optional reason)."""

    reason = TextAreaField("Reason", validators=[
        Optional(), Length(max=500, message="The reason can be at most 500 characters long.")])


class PreviewForm(FlaskForm):
    client_id = IntegerField("Client ID", validators=[
        InputRequired(message="Enter a client ID as a whole number."),
        NumberRange(min=1, max=2**31 - 1, message="Client IDs are whole numbers from 1.")])


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(message="Please choose a password.")])


class TotpForm(FlaskForm):
    code = StringField("6-digit code from your authenticator app",
                       validators=[DataRequired(message="Please enter the code."), Length(max=12)])

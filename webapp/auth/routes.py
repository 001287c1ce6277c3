"""Sign-up, sign-in (password or emailed link), sign-out, reset and account settings."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmForm,
    EmailOnlyForm,
    LoginForm,
    NewPasswordForm,
    SignupForm,
)
from webapp.auth.session import email_rate_key
from webapp.extensions import db, limiter
from webapp.models import User
from webapp.services import DomainError, accounts

bp = Blueprint("auth", __name__)

PER_IP = "60/minute"  # a whole venue may share one address
LOGIN_PER_EMAIL = "10/minute;40/hour"
LINKS_PER_EMAIL = "3/minute;10/hour"


def _per_email(limits: str):
    return limiter.limit(limits, key_func=email_rate_key, methods=["POST"])


def _per_ip():
    return limiter.limit(PER_IP, methods=["POST"])


def _next_path() -> str | None:
    return accounts.safe_next(request.values.get("next"))


def _signed_in(user: User, *, remember: bool = False, next_path: str | None = None):
    login_user(user, remember=remember)
    accounts.record_login(user)
    db.session.commit()
    return redirect(next_path or url_for("main.index"))


def _check_email(address: str, what: str) -> str:
    return render_template("auth/check_email.html", address=address, what=what)


@bp.route("/login", methods=["GET", "POST"])
@_per_ip()
@_per_email(LOGIN_PER_EMAIL)
def login():
    if current_user.is_authenticated:
        return redirect(_next_path() or url_for("main.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except DomainError as exc:
            db.session.commit()  # keeps a verification email queued by authenticate
            error = exc.message
        else:
            return _signed_in(user, remember=form.remember.data, next_path=_next_path())
    return render_template("auth/login.html", form=form, error=error, next=_next_path())


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("main.index"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    accounts.sign_out_everywhere(current_user)
    db.session.commit()
    logout_user()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
@_per_ip()
@_per_email(LINKS_PER_EMAIL)
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        accounts.register(form.email.data, form.name.data, form.password.data)
        db.session.commit()
        return _check_email(form.email.data, "a link to confirm your address")
    return render_template("auth/signup.html", form=form)


@bp.route("/login/link", methods=["GET", "POST"])
@_per_ip()
@_per_email(LINKS_PER_EMAIL)
def request_link():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_signin_link(form.email.data, _next_path())
        db.session.commit()
        return _check_email(form.email.data, "a sign-in link")
    return render_template("auth/email_form.html", form=form, page="link", next=_next_path())


def _link_page(purpose: str, token: str):
    """GET shows who the link is for and a button; POST spends it and signs in."""
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            user, next_path = accounts.signin_with_link(purpose, token)
            return _signed_in(user, next_path=next_path)
        user = accounts.peek_link(purpose, token)
    except DomainError as exc:
        db.session.rollback()
        return render_template("auth/link_invalid.html", message=exc.message, form=EmailOnlyForm()), 400
    return render_template("auth/link_confirm.html", form=form, user=user, purpose=purpose)


@bp.route("/login/link/<token>", methods=["GET", "POST"])
@_per_ip()
def link_signin(token: str):
    return _link_page(accounts.SIGNIN, token)


@bp.route("/verify/<token>", methods=["GET", "POST"])
@_per_ip()
def verify_email(token: str):
    return _link_page(accounts.VERIFY, token)


@bp.route("/reset", methods=["GET", "POST"])
@_per_ip()
@_per_email(LINKS_PER_EMAIL)
def request_reset():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)
        db.session.commit()
        return _check_email(form.email.data, "a link to choose a new password")
    return render_template("auth/email_form.html", form=form, page="reset")


@bp.route("/reset/<token>", methods=["GET", "POST"])
@_per_ip()
def reset_password(token: str):
    form = NewPasswordForm()
    try:
        user = accounts.peek_link(accounts.RESET, token)
        if form.validate_on_submit():
            user = accounts.reset_password(token, form.password.data)
            flash("Your password is changed and every other device is signed out.", "success")
            return _signed_in(user)
    except DomainError as exc:
        db.session.rollback()
        return render_template("auth/link_invalid.html", message=exc.message, form=EmailOnlyForm()), 400
    return render_template("auth/reset_password.html", form=form, user=user)


@bp.get("/account")
@login_required
def account():
    return render_template(
        "auth/account.html", email_form=ChangeEmailForm(), password_form=ChangePasswordForm()
    )


@bp.post("/account/email")
@login_required
@limiter.limit(LINKS_PER_EMAIL, key_func=lambda: f"user:{current_user.id}")
def change_email():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            accounts.request_email_change(current_user, form.email.data)
        except DomainError as exc:
            form.email.errors.append(exc.message)
        else:
            db.session.commit()
            flash(f"We sent a confirmation link to {form.email.data}. Your address changes when you open it.", "info")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", email_form=form, password_form=ChangePasswordForm()), 422


@bp.route("/account/email/<token>", methods=["GET", "POST"])
@_per_ip()
def confirm_email_change(token: str):
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            viewer_id = current_user.id if current_user.is_authenticated else None
            user = accounts.confirm_email_change(token)
            db.session.commit()
            flash(f"Your email is now {user.email}. Other devices are signed out.", "success")
            if viewer_id == user.id:  # this device stays signed in under the new session version
                login_user(user)
                return redirect(url_for("auth.account"))
            return redirect(url_for("auth.login"))
        user, new_email = accounts.peek_email_change(token)
    except DomainError as exc:
        db.session.rollback()
        return render_template("auth/link_invalid.html", message=exc.message, form=EmailOnlyForm()), 400
    return render_template("auth/link_confirm.html", form=form, user=user, purpose="change-email", new_email=new_email)


@bp.post("/account/password")
@login_required
@limiter.limit(LOGIN_PER_EMAIL, key_func=lambda: f"user:{current_user.id}")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data)
        except DomainError as exc:
            getattr(form, exc.field or "password").errors.append(exc.message)
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # this device stays signed in
            flash("Password saved. Other devices are signed out.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", email_form=ChangeEmailForm(), password_form=form), 422


# Views in other modules attach themselves to ``bp``.
from webapp.auth import deletion  # noqa: E402, F401

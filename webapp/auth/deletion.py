"""Deleting one's own account: a page that says what goes and what stays,
and a form that asks for the account's email before anything is deleted."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from webapp.auth.routes import bp
from webapp.forms_support import REFUSED, submit
from webapp.services import account_deletion


class DeleteAccountForm(FlaskForm):
    # The email, not the password: people who sign in with emailed links have none.
    email = StringField(
        "Type your email address to confirm", validators=[InputRequired(), Length(max=254)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false", "inputmode": "email"},
    )


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if submit(form, account_deletion.delete_account, user, confirmation=form.email.data) is not REFUSED:
            logout_user()
            flash("Your account was deleted.", "info")
            return redirect(url_for("main.index"))
    summary = account_deletion.summary(current_user)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/delete_account.html", form=form, summary=summary), status

"""Personal API tokens on the settings page: make one (shown once), revoke one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from webapp.auth.forms import ConfirmForm
from webapp.extensions import db
from webapp.forms_support import Form
from webapp.services import DomainError, api_tokens

bp = Blueprint("tokens", __name__)


class TokenForm(Form):
    name = StringField(
        "Name", validators=[InputRequired(), Length(max=api_tokens.MAX_NAME)],
        description="So you recognise it later, such as the phone or script that uses it.",
    )


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    body = render_template(
        "api/tokens.html", tokens=api_tokens.list_tokens(current_user), form=form, new_token=new_token
    )
    # The page may carry a token's only showing: never keep it in a cache.
    return body, status, {"Cache-Control": "no-store"}


@bp.get("/settings/tokens")
@login_required
def index():
    return _page(TokenForm())


@bp.post("/settings/tokens")
@login_required
def create():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        _, plaintext = api_tokens.create(current_user, form.name.data)
    except DomainError as exc:
        db.session.rollback()
        form.name.errors.append(exc.message)
        return _page(form, status=422)
    db.session.commit()
    return _page(TokenForm(formdata=None), new_token=plaintext)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            token = api_tokens.revoke(current_user, token_id)
        except DomainError:
            abort(404)
        db.session.commit()
        flash(f"Token “{token.name}” revoked. Anything using it is signed out.", "info")
    return redirect(url_for("tokens.index"))

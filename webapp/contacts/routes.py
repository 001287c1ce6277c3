"""Your connections: the people you met, who scanned you, removing and blocking."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from webapp.access import or_404
from webapp.auth.forms import ConfirmForm
from webapp.contacts import bp
from webapp.extensions import db
from webapp.services import connections, contacts, people


class NoteForm(FlaskForm):
    note = TextAreaField("Private note", validators=[Optional(), Length(max=contacts.MAX_NOTE)], render_kw={"rows": 4})


def _contact_or_404(contact_id: int):
    return or_404(contacts.owned, current_user, contact_id)


@bp.get("/contacts")
@login_required
def index():
    return render_template("contacts/index.html", contacts=contacts.recent(current_user))


@bp.get("/contacts/<int:contact_id>")
@login_required
def show(contact_id: int):
    contact = _contact_or_404(contact_id)
    card = people.card(contact.user) if contact.user else None
    return render_template(
        "contacts/show.html", contact=contact, card=card, note_form=NoteForm(note=contact.note), form=ConfirmForm()
    )


@bp.post("/contacts/<int:contact_id>/note")
@login_required
def save_note(contact_id: int):
    contact = _contact_or_404(contact_id)
    form = NoteForm()
    if form.validate_on_submit():
        contacts.set_note(contact, form.note.data)
        db.session.commit()
        flash("Note saved.", "success")
    return redirect(url_for("contacts.show", contact_id=contact.id))


@bp.post("/contacts/<int:contact_id>/remove")
@login_required
def remove(contact_id: int):
    contact = _contact_or_404(contact_id)
    if ConfirmForm().validate_on_submit():
        connections.remove_contact(current_user, contact)
        db.session.commit()
        flash("Removed from your connections.", "info")
    return redirect(url_for("contacts.index"))


@bp.post("/contacts/<int:contact_id>/block")
@login_required
def block(contact_id: int):
    contact = _contact_or_404(contact_id)
    if contact.user_id is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        connections.block(current_user, contact.user_id)
        db.session.commit()
        flash("Blocked. They can no longer connect with you or see you.", "info")
    return redirect(url_for("contacts.index"))


@bp.get("/contacts/scanned-me")
@login_required
def scanned_me():
    return render_template("contacts/scanned_me.html", scans=connections.scanned_me(current_user))

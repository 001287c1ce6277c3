"""The address book list and one contact's page: notes, details, removing and blocking."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.access import or_404
from webapp.auth.forms import ConfirmForm
from webapp.contacts import bp
from webapp.contacts.forms import (
    BulkTagForm,
    CadenceForm,
    ContactForm,
    FilterForm,
    NewContactForm,
    NoteForm,
    TagsForm,
    TouchForm,
    choices,
)
from webapp.extensions import db
from webapp.forms_support import REFUSED, submit
from webapp.models import utcnow
from webapp.services import ValidationFailed, cadences, connections, contact_list, contacts, people, tags
from webapp.services.paging import page_number

PER_PAGE = 25  # a phone screenful or three; keeps a page quick to build and to scroll


def contact_or_404(contact_id: int):
    return or_404(contacts.owned, current_user, contact_id)


@bp.get("/contacts")
@login_required
def index():
    filters = FilterForm(request.args)  # out-of-range values read as "no filter"
    wanted = contact_list.Filters(q=filters.q.data or "", tag_id=filters.tag.data, event_id=filters.event.data,
                                  state=filters.state.data or None, sort=filters.sort.data or "recent")
    offered = contact_list.choices(current_user)
    filters.tag.choices = choices([("", "Any tag")] + [(str(tag_id), name) for tag_id, name in offered.tags])
    filters.event.choices = choices([("", "Any event")] + [(str(event_id), name) for event_id, name in offered.events])
    filters.validate()  # shape only, for the messages
    page = contact_list.list_page(current_user, wanted, page_number(request.args.get("page")), PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("contacts/index.html", page=page, filters=filters, args=args, filtered=bool(args),
                           now=utcnow(), bulk=BulkTagForm(back=request.full_path),
                           tag_names=[name for _, name in offered.tags])


@bp.get("/contacts/<int:contact_id>")
@login_required
def show(contact_id: int):
    contact = contact_or_404(contact_id)
    return _show(contact)


def _show(contact, status: int = 200, **forms):
    card = people.card(contact.user) if contact.user else None
    defaults = {
        "note_form": NoteForm(note=contact.note, formdata=None),
        "touch_form": TouchForm(formdata=None),
        "cadence_form": CadenceForm(cadence=contact.cadence_days, formdata=None),
        "tags_form": TagsForm(tags=", ".join(t.name for t in contact.tags), formdata=None),
        "edit_form": None if contact.user else ContactForm(obj=contact, formdata=None),
    }
    defaults.update(forms)
    return render_template(
        "contacts/show.html", contact=contact, card=card, form=ConfirmForm(), history=cadences.history(contact),
        labels=cadences.LABELS, now=utcnow(),
        cadence=cadences.effective_cadence(contact), tag_names=[name for _, name in tags.names(current_user)],
        **defaults,
    ), status


@bp.post("/contacts/<int:contact_id>/note")
@login_required
def save_note(contact_id: int):
    contact = contact_or_404(contact_id)
    form = NoteForm()
    if not form.validate_on_submit() or submit(form, contacts.set_note, contact, form.note.data) is REFUSED:
        return _show(contact, 422, note_form=form)
    flash("Note saved.", "success")
    return redirect(url_for("contacts.show", contact_id=contact.id))


@bp.post("/contacts/<int:contact_id>/details")
@login_required
def edit(contact_id: int):
    """Name, email, phone, company and headline of someone not on MeetLoop."""
    contact = contact_or_404(contact_id)
    if contact.user_id is not None:
        abort(404)  # a MeetLoop member's details are theirs to edit
    form = ContactForm()
    if not form.validate_on_submit() or submit(form, contacts.edit, contact, **form.values()) is REFUSED:
        return _show(contact, 422, edit_form=form)
    flash("Details saved.", "success")
    return redirect(url_for("contacts.show", contact_id=contact.id))


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def new():
    form = NewContactForm()
    if form.validate_on_submit():
        contact = submit(form, _create, form)
        if contact is not REFUSED:
            flash(f"{contacts.display_name(contact)} added.", "success")
            return redirect(url_for("contacts.show", contact_id=contact.id))
    status = 422 if form.errors else 200
    return render_template("contacts/new.html", form=form,
                           tag_names=[name for _, name in tags.names(current_user)]), status


def _create(form: NewContactForm):
    contact = contacts.create(current_user, note=form.note.data or "", **form.values())
    names = [part for part in (form.tags.data or "").split(",") if part.strip()]
    if names:
        try:
            tags.add(contact, names)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field="tags") from None
    return contact


@bp.post("/contacts/<int:contact_id>/remove")
@login_required
def remove(contact_id: int):
    contact = contact_or_404(contact_id)
    if ConfirmForm().validate_on_submit():
        connections.remove_contact(current_user, contact)
        db.session.commit()
        flash("Removed from your contacts.", "info")
    return redirect(url_for("contacts.index"))


@bp.post("/contacts/<int:contact_id>/block")
@login_required
def block(contact_id: int):
    contact = contact_or_404(contact_id)
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

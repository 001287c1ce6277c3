"""Tags: the list with counts and cadences, renaming, deleting, and tagging many people at once."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.access import or_404
from webapp.auth.forms import ConfirmForm
from webapp.contacts import bp
from webapp.contacts.forms import BulkTagForm, RenameTagForm, TagCadenceForm
from webapp.forms_support import REFUSED, submit
from webapp.services import accounts, cadences, tags


@bp.get("/tags")
@login_required
def tag_index():
    return _tag_page()


def _tag_page(status: int = 200, failed=None):
    """The tags page; ``failed`` is (tag id, form) of a form to show with its errors."""
    rows = []
    for tag, count in tags.by_owner(current_user):
        cadence_form = TagCadenceForm(prefix=f"t{tag.id}", cadence=tag.cadence_days, formdata=None)
        rename_form = RenameTagForm(prefix=f"r{tag.id}", name=tag.name, formdata=None)
        if failed and failed[0] == tag.id:
            form = failed[1]
            cadence_form, rename_form = (form, rename_form) if isinstance(form, TagCadenceForm) else (cadence_form,
                                                                                                      form)
        rows.append((tag, count, cadence_form, rename_form))
    return render_template("contacts/tags.html", rows=rows, form=ConfirmForm()), status


@bp.post("/tags/<int:tag_id>/cadence")
@login_required
def tag_cadence(tag_id: int):
    tag = or_404(tags.owned, current_user, tag_id)
    form = TagCadenceForm(prefix=f"t{tag.id}")
    if not form.validate_on_submit() or submit(form, cadences.set_tag_cadence, tag,
                                               form.cadence.data) is REFUSED:
        return _tag_page(422, (tag.id, form))
    flash(f"{tag.name}: " + (f"reminders every {tag.cadence_days} days after the last touch."
                             if tag.cadence_days else "no reminders."), "success")
    return redirect(url_for("contacts.tag_index"))


@bp.post("/tags/<int:tag_id>/rename")
@login_required
def tag_rename(tag_id: int):
    tag = or_404(tags.owned, current_user, tag_id)
    form = RenameTagForm(prefix=f"r{tag.id}")
    if not form.validate_on_submit() or submit(form, tags.rename, tag, form.name.data) is REFUSED:
        return _tag_page(422, (tag.id, form))
    flash("Renamed.", "success")
    return redirect(url_for("contacts.tag_index"))


@bp.post("/tags/<int:tag_id>/delete")
@login_required
def tag_delete(tag_id: int):
    tag = or_404(tags.owned, current_user, tag_id)
    form = ConfirmForm()
    if form.validate_on_submit() and submit(form, tags.remove, tag) is not REFUSED:
        flash("Tag deleted. The people it was on are still in your contacts.", "info")
    return redirect(url_for("contacts.tag_index"))


@bp.post("/contacts/bulk")
@login_required
def bulk():
    """Add or remove one tag on the people ticked on the contacts list."""
    form = BulkTagForm()
    back = accounts.safe_next(form.back.data) or url_for("contacts.index")
    ids = [int(v) for v in request.form.getlist("contact") if v.isdigit() and len(v) < 10]
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(errors), "error")
        return redirect(back)
    if not ids:
        flash("Tick the people first.", "error")
        return redirect(back)
    if form.action.data == "tag":
        done = submit(form, tags.tag_many, current_user, ids, form.tag.data)
        verb = "Tagged"
    else:
        tag = tags.find(current_user.id, form.tag.data.strip())
        if tag is None:
            flash(f"You have no tag called {form.tag.data.strip()}.", "error")
            return redirect(back)
        done = submit(form, tags.untag_many, current_user, ids, tag)
        verb = "Untagged"
    if done is not REFUSED:
        flash(f"{verb} {done} {'person' if done == 1 else 'people'}.", "success")
    return redirect(back)


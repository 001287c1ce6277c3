"""Keeping in touch from the app: the losing-touch list, logging a touch,
snoozing a reminder, a contact's cadence and tags, and the Reactivate suggestion."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.auth.forms import ConfirmForm
from webapp.contacts import bp
from webapp.contacts.forms import CadenceForm, TagsForm, TouchForm
from webapp.contacts.routes import PER_PAGE, _show, contact_or_404
from webapp.extensions import db
from webapp.forms_support import REFUSED, submit
from webapp.models import utcnow
from webapp.services import accounts, cadences, events, tags


@bp.get("/contacts/losing-touch")
@login_required
def losing_touch():
    now = utcnow()
    page = db.paginate(cadences.losing_touch_query(current_user), per_page=PER_PAGE, error_out=False)
    return render_template(
        "contacts/losing_touch.html", page=page, now=now,
        reactivation_count=cadences.reactivation_count(current_user, now), form=ConfirmForm(),
        after=cadences.REACTIVATE_AFTER.days // 30, reactivate_tag=cadences.REACTIVATE_TAG,
    )


def _back(contact_id: int):
    """Where a quick action returns: the page it was pressed on (same site only)."""
    return redirect(accounts.safe_next(request.form.get("next")) or url_for("contacts.show", contact_id=contact_id))


def _touch_time(day, zone: str) -> datetime | None:
    """A logged date means that day in the person's zone: now if it's today, else noon."""
    if day is None:
        return None
    local_now = utcnow().astimezone(events.zone(zone))
    if day == local_now.date():
        return None
    return datetime.combine(day, time(12), tzinfo=events.zone(zone)).astimezone(UTC)


@bp.post("/contacts/<int:contact_id>/touch")
@login_required
def touch(contact_id: int):
    contact = contact_or_404(contact_id)
    form = TouchForm()
    if not form.validate_on_submit():
        return _show(contact, 422, touch_form=form)
    at = _touch_time(form.on.data, current_user.timezone)
    if submit(form, cadences.log_touch, contact, form.kind.data, at=at, note=form.note.data or "",
              field="on") is REFUSED:
        return _show(contact, 422, touch_form=form)
    flash("Logged. The reminder clock starts again from this touch.", "success")
    return _back(contact.id)


@bp.post("/contacts/<int:contact_id>/snooze")
@login_required
def snooze(contact_id: int):
    contact = contact_or_404(contact_id)
    form = ConfirmForm()
    if form.validate_on_submit() and submit(form, cadences.snooze, contact) is not REFUSED:
        flash(f"We'll remind you again in {cadences.SNOOZE_DAYS} days.", "success")
    return _back(contact.id)


@bp.post("/contacts/<int:contact_id>/cadence")
@login_required
def cadence(contact_id: int):
    contact = contact_or_404(contact_id)
    form = CadenceForm()
    if not form.validate_on_submit() or submit(form, cadences.set_contact_cadence, contact,
                                               form.cadence.data) is REFUSED:
        return _show(contact, 422, cadence_form=form)
    flash("Saved.", "success")
    return redirect(url_for("contacts.show", contact_id=contact.id))


@bp.post("/contacts/<int:contact_id>/tags")
@login_required
def set_tags(contact_id: int):
    contact = contact_or_404(contact_id)
    form = TagsForm()
    if not form.validate_on_submit() or submit(form, tags.replace, contact, form.names()) is REFUSED:
        return _show(contact, 422, tags_form=form)
    flash("Tags saved.", "success")
    return redirect(url_for("contacts.show", contact_id=contact.id))


@bp.post("/contacts/reactivate")
@login_required
def reactivate():
    form = ConfirmForm()
    if form.validate_on_submit():
        count = submit(form, cadences.reactivate, current_user)
        if count is not REFUSED:
            flash(f"Tagged {count} {'person' if count == 1 else 'people'} {cadences.REACTIVATE_TAG}: "
                  f"they're on this list now, one reason at a time.", "success")
    return redirect(url_for("contacts.losing_touch"))

"""The organizer's side of the event page: join link, invitations,
co-organizers and cancelling. Everyone else gets 404 (see webapp.access)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user, login_required

from webapp.access import organized_event_or_404
from webapp.auth.forms import ConfirmForm
from webapp.events import bp
from webapp.events.forms import CoOrganizerForm, InviteForm, JoinLinkForm
from webapp.events.routes import event_page
from webapp.extensions import db, limiter
from webapp.forms_support import REFUSED, submit
from webapp.services import DomainError, accounts, audit, events, joining

# Generous (an organizer may invite a room's worth by hand) but not a spam cannon.
INVITES_PER_ORGANIZER = "30/minute;300/hour"


def _back(event, anchor: str = ""):
    return redirect(url_for("events.show", ref=event.slug, _anchor=anchor or None))


@bp.post("/events/<ref>/invite")
@login_required
@limiter.limit(INVITES_PER_ORGANIZER, key_func=lambda: f"invite:{current_user.get_id()}")
def invite(ref: str):
    event = organized_event_or_404(ref)
    form = InviteForm()
    if form.validate_on_submit() and submit(
        form, joining.invite, event, current_user, form.email.data, form.name.data, field="email"
    ) is not REFUSED:
        flash(f"Invitation sent to {form.email.data}.", "success")
        return _back(event, "invite")
    return event_page(event, events.attendance_of(current_user, event), 422, invite_form=form)


@bp.post("/events/<ref>/organizers")
@login_required
def add_organizer(ref: str):
    event = organized_event_or_404(ref)
    form = CoOrganizerForm()
    if form.validate_on_submit() and submit(
        form, events.add_co_organizer, event, current_user, form.email.data, field="email"
    ) is not REFUSED:
        flash(f"{form.email.data} now co-organizes this event. We've emailed them.", "success")
        return _back(event, "organizers")
    return event_page(event, events.attendance_of(current_user, event), 422, organizer_form=form)


@bp.post("/events/<ref>/organizers/<int:user_id>/remove")
@login_required
def remove_organizer(ref: str, user_id: int):
    event = organized_event_or_404(ref)
    if ConfirmForm().validate_on_submit():
        try:
            events.remove_co_organizer(event, accounts.get_user(user_id))
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            audit.record(current_user, "event.organizer_remove", event=event, subject=f"user {user_id}")
            db.session.commit()
            flash("Removed. They no longer organize this event.", "info")
            if not events.is_organizer(current_user, event):  # they removed themselves
                return redirect(url_for("events.index"))
    return _back(event, "organizers")


@bp.post("/events/<ref>/join-link")
@login_required
def join_link(ref: str):
    event = organized_event_or_404(ref)
    form = JoinLinkForm()
    if form.validate_on_submit():
        events.set_join_enabled(event, form.enabled.data)
        audit.record(current_user, "event.join_link", event=event, detail="on" if form.enabled.data else "off")
        db.session.commit()
        flash("The join link works." if form.enabled.data else "The join link is switched off.", "info")
    return _back(event, "join-link")


@bp.post("/events/<ref>/join-link/new")
@login_required
def new_join_link(ref: str):
    event = organized_event_or_404(ref)
    if ConfirmForm().validate_on_submit():
        events.reset_join_code(event)
        audit.record(current_user, "event.join_link_reset", event=event)
        db.session.commit()
        flash("New join link made. The old one no longer works.", "info")
    return _back(event, "join-link")


@bp.post("/events/<ref>/cancel")
@login_required
def cancel(ref: str):
    event = organized_event_or_404(ref)
    if ConfirmForm().validate_on_submit():
        try:
            events.cancel_event(event)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            audit.record(current_user, "event.cancel", event=event)
            db.session.commit()
            flash(f"{event.name} is cancelled. Attendees are being emailed.", "info")
    return _back(event)

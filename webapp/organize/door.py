"""Organizer views: the door. Find someone by name or badge code, check them
in with one tap, register a walk-in, reprint a badge. Made for a phone."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.access import organized_event_or_404
from webapp.extensions import db
from webapp.formatting import clock
from webapp.forms_support import REFUSED, submit
from webapp.models import Event
from webapp.organize import bp
from webapp.organize.attendees import attendance_or_404
from webapp.organize.forms import CheckInForm, DoorSearchForm, WalkInForm
from webapp.services import attendees as service
from webapp.services import checkin


def already_line(result: checkin.CheckIn) -> str:
    """``already checked in at 18:05 by Olga Organizer`` (the time in the event's zone)."""
    attendance = result.attendance
    by = result.by.name if result.by else "an organizer"
    return f"already checked in at {clock(attendance.checked_in_at, attendance.event.timezone)} by {by}"


def flash_check_in(result: checkin.CheckIn, prefix: str = "") -> None:
    name = result.attendance.user.name
    if result.already:
        flash(f"{prefix}{name} was {already_line(result)}.", "warning")
    else:
        flash(f"{prefix}{name} is checked in.", "success")


def _door_page(event: Event, walk_in_form: WalkInForm | None = None, status: int = 200):
    search = DoorSearchForm(request.args)
    q = (search.q.data or "").strip() if search.validate() else ""
    found = service.door_search(event, q) if q else None
    if walk_in_form is None:  # nobody found: start the walk-in form from what was typed
        guess = {"email": q} if "@" in q else {"name": q}
        walk_in_form = WalkInForm(formdata=None, data=guess if found is not None and not found.attendances else {})
    return render_template(
        "organize/door.html", event=event, search=search, q=q, found=found, totals=service.totals(event),
        recent=service.recent_check_ins(event) if found is None else [], walk_in_form=walk_in_form,
    ), status


@bp.get("/events/<ref>/door")
@login_required
def door(ref: str):
    return _door_page(organized_event_or_404(ref))


@bp.post("/events/<ref>/door/<int:attendance_id>/check-in")
@login_required
def door_check_in(ref: str, attendance_id: int):
    event = organized_event_or_404(ref)
    attendance = attendance_or_404(event, attendance_id)
    form = CheckInForm()
    if form.validate_on_submit():
        result = checkin.check_in(current_user, attendance)
        db.session.commit()
        flash_check_in(result)
    return redirect(url_for("organize.door", ref=event.slug, q=(form.q.data or "").strip() or None))


@bp.post("/events/<ref>/door/walk-in")
@login_required
def walk_in(ref: str):
    event = organized_event_or_404(ref)
    form = WalkInForm()
    if form.validate_on_submit():
        result = submit(form, service.walk_in, event, current_user, form.name.data, form.email.data,
                        form.company.data or "")
        if result is not REFUSED:
            flash_check_in(result.check_in, "" if result.was_registered else "Walk-in registered: ")
            return redirect(url_for("organize.door", ref=event.slug, q=result.attendance.user.email))
    return _door_page(event, form, 422)

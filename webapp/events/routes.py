"""Attending and editing events: my events, the event page, new/edit, the
calendar file, and the "who's here" list."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.access import event_or_404, organized_event_or_404
from webapp.auth.forms import ConfirmForm
from webapp.auth.session import role_required
from webapp.events import bp
from webapp.events.forms import CoOrganizerForm, EventForm, InviteForm, ListedForm
from webapp.extensions import db
from webapp.models import Attendance, Event, utcnow
from webapp.services import DomainError, audit, calendar, events, mail

organizer_required = role_required(lambda user: user.is_organizer)


def visible_event_or_404(ref: str) -> tuple[Event, Attendance | None]:
    """The event and my attendance, if I attend or organize it; else 404."""
    event = event_or_404(ref)
    attendance = events.attendance_of(current_user, event)
    if attendance is None and not events.is_organizer(current_user, event):
        abort(404)
    return event, attendance


def own_attendance_or_404(ref: str) -> tuple[Event, Attendance]:
    event = event_or_404(ref)
    attendance = events.attendance_of(current_user, event)
    if attendance is None:
        abort(404)
    return event, attendance


def field_error(form, exc: DomainError) -> str | None:
    """Put a service error on its form field; return it if no field fits."""
    field = getattr(form, exc.field or "", None)
    if field is None:
        return exc.message
    field.errors = [*field.errors, exc.message]
    return None


def event_page(event: Event, attendance: Attendance | None, status: int = 200, **forms):
    organizing = events.is_organizer(current_user, event)
    running = event.cancelled_at is None and event.ends_at > utcnow()
    context = {"event": event, "attendance": attendance, "organizing": organizing, "running": running}
    if attendance is not None:
        context["can_leave"] = event.starts_at > utcnow() and attendance.checked_in_at is None
    if organizing:
        context.update(
            join_url=mail.external_url("events.join_page", code=event.join_code),
            attendee_count=events.attendee_count(event),
            followup_at=events.followup_due_at(event),
            co_organizers=events.co_organizers(event),
            invite_form=forms.get("invite_form") or InviteForm(formdata=None),
            organizer_form=forms.get("organizer_form") or CoOrganizerForm(formdata=None),
        )
    return render_template("events/show.html", **context), status


@bp.get("/events")
@login_required
def index():
    upcoming, past = events.my_events(current_user)
    return render_template("events/index.html", upcoming=upcoming, past=past)


@bp.route("/events/new", methods=["GET", "POST"])
@organizer_required
def new():
    form = EventForm(data={"timezone": current_user.timezone})
    error = None
    if form.validate_on_submit():
        try:
            event = events.create_event(current_user, **form.values())
        except DomainError as exc:
            error = field_error(form, exc)
        else:
            audit.record(current_user, "event.create", event=event)
            db.session.commit()
            flash("Event created. Share its join link or invite people below.", "success")
            return redirect(url_for("events.show", ref=event.slug))
    return render_template("events/form.html", form=form, event=None, error=error), (
        422 if request.method == "POST" else 200)


@bp.get("/events/<ref>")
@login_required
def show(ref: str):
    return event_page(*visible_event_or_404(ref))


def _form_data(event: Event) -> dict:
    naive = {key: events.local(event, getattr(event, key)).replace(tzinfo=None) for key in ("starts_at", "ends_at")}
    return {"name": event.name, "venue": event.venue, "timezone": event.timezone, "description": event.description,
            "followup_delay_minutes": event.followup_delay_minutes, **naive}


@bp.route("/events/<ref>/edit", methods=["GET", "POST"])
@login_required
def edit(ref: str):
    event = organized_event_or_404(ref)
    form = EventForm(data=_form_data(event))
    error = None
    if form.validate_on_submit():
        try:
            told = events.update_event(event, **form.values())
        except DomainError as exc:
            db.session.rollback()
            error = field_error(form, exc)
        else:
            audit.record(current_user, "event.edit", event=event)
            db.session.commit()
            flash("Saved." + (" Attendees are being emailed the new time and place." if told else ""), "success")
            return redirect(url_for("events.show", ref=event.slug))
    return render_template("events/form.html", form=form, event=event, error=error), (
        422 if request.method == "POST" else 200)


@bp.get("/events/<ref>/calendar.ics")
@login_required
def ics(ref: str):
    event, _ = visible_event_or_404(ref)
    body = calendar.event_ics(event, mail.external_url("events.show", ref=event.slug))
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="{event.slug}.ics"'})


@bp.get("/events/<ref>/people")
@login_required
def people(ref: str):
    event, attendance = visible_event_or_404(ref)
    return render_template("events/people.html", event=event, attendance=attendance,
                           people=events.listed_attendees(event, current_user), form=ListedForm(formdata=None))


@bp.post("/events/<ref>/people/listed")
@login_required
def set_listed(ref: str):
    event, attendance = own_attendance_or_404(ref)
    form = ListedForm()
    if form.validate_on_submit():
        events.set_listed(attendance, form.listed.data)
        db.session.commit()
        flash("You're on the list." if form.listed.data else "You're no longer on the list.", "success")
    return redirect(url_for("events.people", ref=event.slug))


@bp.post("/events/<ref>/leave")
@login_required
def leave(ref: str):
    event, attendance = own_attendance_or_404(ref)
    if ConfirmForm().validate_on_submit():
        try:
            events.leave_event(attendance)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("events.show", ref=event.slug))
        db.session.commit()
        flash(f"You've left {event.name}. Your badge no longer works.", "info")
    return redirect(url_for("events.index"))

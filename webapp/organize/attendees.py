"""Organizer views: the attendee list, removing a registrant, the CSV export."""

from __future__ import annotations

from datetime import datetime

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from webapp.access import or_404, organized_event_or_404
from webapp.auth.forms import ConfirmForm
from webapp.auth.session import per_user
from webapp.extensions import db
from webapp.formatting import short, time_element
from webapp.models import Attendance, Event
from webapp.organize import bp
from webapp.organize.forms import AttendeeFilterForm
from webapp.services import attendee_list, audit
from webapp.services import attendees as service
from webapp.services.paging import page_number


@bp.app_template_filter("short_local")
def short_local(value: datetime, event: Event) -> str:
    """``25 Nov, 18:05`` in the event's zone: compact enough for a table cell."""
    return short(value, event.timezone)


@bp.app_template_filter("local_time")
def local_time(value: datetime, event: Event) -> Markup:
    """A ``<time>`` element: the stored instant, shown as :func:`short_local`
    (one filter call per cell of a long table, rather than two)."""
    return time_element(value, short(value, event.timezone))


def attendance_or_404(event: Event, attendance_id: int) -> Attendance:
    return or_404(service.attendance_in, event, attendance_id)


@bp.get("/events/<ref>/attendees")
@login_required
def attendees(ref: str):
    event = organized_event_or_404(ref)
    form = AttendeeFilterForm(request.args)
    listing = attendee_list.list_page(event, form.list_query(), page_number(request.args.get("page")),
                                      service.PER_PAGE)
    remove_id = request.args.get("remove", type=int)  # "Remove…" asks here first
    return render_template(
        "organize/attendees.html", event=event, form=form, page=listing.page, totals=listing.totals,
        removing=attendance_or_404(event, remove_id) if remove_id else None, remove_form=ConfirmForm(),
    )


@bp.post("/events/<ref>/attendees/<int:attendance_id>/remove")
@login_required
def remove(ref: str, attendance_id: int):
    event = organized_event_or_404(ref)
    attendance = attendance_or_404(event, attendance_id)
    if ConfirmForm().validate_on_submit():
        name = attendance.user.name
        audit.record(current_user, "attendees.remove", event=event, subject=f"user {attendance.user_id}")
        service.remove_registrant(event, attendance)
        db.session.commit()
        flash(f"{name} was removed from {event.name}. Their badge no longer works; "
              "the people they met still count in the stats.", "success")
    back = AttendeeFilterForm(request.args).args(page=request.args.get("page", type=int))
    return redirect(url_for("organize.attendees", ref=event.slug, **back))


@bp.get("/events/<ref>/attendees.csv")
@login_required
@per_user("30/hour")  # the whole attendee list with addresses: a wall for scripts
def export(ref: str):
    event = organized_event_or_404(ref)
    audit.record_download(current_user, "attendees.export", event=event)
    body = stream_with_context(service.csv_chunks(service.export_rows(event)))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{event.slug}-attendees.csv"',
        "Cache-Control": "private, no-store",  # names and emails: keep them out of shared caches
    })

"""Badges: "my badge" on the phone, replacing a lost one, and printed sheets."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.access import event_or_404, organized_event_or_404
from webapp.auth.forms import ConfirmForm
from webapp.badges.forms import MarkPrintedForm
from webapp.errors import error_response
from webapp.extensions import db
from webapp.services import NotFound, ValidationFailed, audit, badge_pdf, badge_sheets, badges, connections, events

bp = Blueprint("badges", __name__)


def _own_attendance(ref: str):
    event = event_or_404(ref)
    attendance = events.attendance_of(current_user, event)
    if attendance is None:
        abort(404)
    return event, attendance


@bp.get("/events/<ref>/badge")
@login_required
def my_badge(ref: str):
    event, attendance = _own_attendance(ref)
    url = badges.badge_url(attendance)
    qr = badges.qr_svg(url, f"QR code of {current_user.name}'s badge, code {attendance.badge_code}")
    # Until their first scan here the page explains how connecting works; nothing
    # to dismiss or store, so it steps aside by itself, event by event.
    newcomer = not connections.has_scanned_at(current_user, event)
    return render_template("badges/my_badge.html", event=event, attendance=attendance, qr=qr, form=ConfirmForm(),
                           newcomer=newcomer)


@bp.post("/events/<ref>/badge/rotate")
@login_required
def rotate(ref: str):
    event, attendance = _own_attendance(ref)
    if ConfirmForm().validate_on_submit():
        badges.rotate(attendance)
        db.session.commit()
        flash("Your badge has a new code. The old one no longer works.", "success")
    return redirect(url_for("badges.my_badge", ref=event.slug))


# --- Printed badges (organizers) -------------------------------------------------------------


def _pdf(data: bytes, filename: str) -> Response:
    # Names and badge URLs: keep them out of shared caches.
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store",
    })


def _options(only: str | None = None) -> badge_pdf.SheetOptions:
    return badge_pdf.parse_options(request.args.get("paper"), request.args.get("layout"), only)


@bp.get("/events/<ref>/badges")
@login_required
def sheets(ref: str):
    event = organized_event_or_404(ref)
    status = badge_sheets.print_status(event)
    form = MarkPrintedForm(badges=status.selection)
    return render_template("badges/sheets.html", event=event, status=status, form=form)


@bp.get("/events/<ref>/badges.pdf")
@login_required
def sheet_pdf(ref: str):
    event = organized_event_or_404(ref)
    try:
        options = _options(request.args.get("only"))
    except ValidationFailed as error:
        return error_response(400, message=error.message)
    audit.record_download(current_user, "badges.download", event=event, detail=f"sheet, {options.layout} a page")
    pdf = badge_sheets.sheet_pdf(event, options)
    suffix = "-unprinted" if options.only_unprinted else ""
    return _pdf(pdf, f"{event.slug}-badges-{options.paper}-{options.layout}up{suffix}.pdf")


@bp.get("/events/<ref>/attendees/<int:attendance_id>/badge.pdf")
@login_required
def attendee_badge_pdf(ref: str, attendance_id: int):
    event = organized_event_or_404(ref)
    try:
        pdf = badge_sheets.attendee_badge_pdf(event, attendance_id, _options())
    except NotFound:
        abort(404)
    except ValidationFailed as error:
        return error_response(400, message=error.message)
    audit.record_download(current_user, "badges.download", event=event, subject=f"attendance {attendance_id}")
    return _pdf(pdf, f"{event.slug}-badge-{attendance_id}.pdf")


@bp.post("/events/<ref>/badges/printed")
@login_required
def mark_printed(ref: str):
    event = organized_event_or_404(ref)
    form = MarkPrintedForm()
    if not form.validate_on_submit():
        return error_response(400)
    try:  # no list at all means every badge not printed yet
        selection = badge_sheets.parse_selection(form.badges.data or "") if form.badges.raw_data else None
    except ValidationFailed as error:
        return error_response(400, message=error.message)
    count = badge_sheets.mark_printed(event, selection)
    audit.record(current_user, "badges.print", event=event, detail=f"{count} marked printed")
    db.session.commit()
    flash(f"Marked {count} badge{'' if count == 1 else 's'} as printed.", "success")
    return redirect(url_for("badges.sheets", ref=event.slug))

"""Organizer views: the event's recap emails. When they go out, how many were
scheduled, sent or failed, a preview of any attendee's recap, and "send now"."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp.access import organized_event_or_404
from webapp.admin.routes import EMAIL_FRAME_CSP
from webapp.auth.forms import ConfirmForm
from webapp.auth.session import per_user
from webapp.extensions import db
from webapp.models import Attendance, Event, User, utcnow
from webapp.organize import bp
from webapp.services import DomainError, audit, events
from webapp.services import recaps as service


def _attendee_or_404(event: Event, user_id: int) -> User:
    attendance = db.session.scalar(select(Attendance).filter_by(event_id=event.id, user_id=user_id))
    if attendance is None:
        abort(404)
    return attendance.user


@bp.get("/events/<ref>/recaps")
@login_required
def recaps(ref: str):
    event = organized_event_or_404(ref)
    chosen = request.args.get("attendee", type=int)
    if chosen is not None:  # the preview picker (a GET form) lands here
        return redirect(url_for("organize.recap_preview", ref=event.slug, user_id=chosen))
    return render_template(
        "organize/recaps.html", event=event, counts=service.counts(event), due_at=events.followup_due_at(event),
        recipients=service.recipients(event), form=ConfirmForm(),
    )


@bp.post("/events/<ref>/recaps/send")
@login_required
@per_user("10/hour")  # sends every attendee an email
def send_recaps(ref: str):
    event = organized_event_or_404(ref)
    if ConfirmForm().validate_on_submit():
        try:
            queued = service.send_now(event, utcnow())
        except DomainError as error:
            flash(error.message, "error")
        else:
            audit.record(current_user, "recaps.send", event=event, detail=f"{queued} queued")
            db.session.commit()
            flash(f"{queued} recap{'' if queued == 1 else 's'} on the way.", "success")
    return redirect(url_for("organize.recaps", ref=event.slug))


@bp.get("/events/<ref>/recaps/preview/<int:user_id>")
@login_required
def recap_preview(ref: str, user_id: int):
    event = organized_event_or_404(ref)
    attendee = _attendee_or_404(event, user_id)
    try:
        subject, text, _ = service.preview(event, attendee)
    except DomainError:
        abort(404)
    return render_template("organize/recap_preview.html", event=event, attendee=attendee, subject=subject, text=text)


@bp.get("/events/<ref>/recaps/preview/<int:user_id>.html")
@login_required
def recap_preview_html(ref: str, user_id: int):
    event = organized_event_or_404(ref)
    try:
        _, _, html = service.preview(event, _attendee_or_404(event, user_id))
    except DomainError:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = EMAIL_FRAME_CSP
    return response

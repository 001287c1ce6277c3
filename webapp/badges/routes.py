"""Badges: "my badge" on the phone, replacing a lost one, and printed sheets."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.access import event_or_404
from webapp.auth.forms import ConfirmForm
from webapp.extensions import db
from webapp.services import badges, events

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
    return render_template("badges/my_badge.html", event=event, attendance=attendance, qr=qr, form=ConfirmForm())


@bp.post("/events/<ref>/badge/rotate")
@login_required
def rotate(ref: str):
    event, attendance = _own_attendance(ref)
    if ConfirmForm().validate_on_submit():
        badges.rotate(attendance)
        db.session.commit()
        flash("Your badge has a new code. The old one no longer works.", "success")
    return redirect(url_for("badges.my_badge", ref=event.slug))

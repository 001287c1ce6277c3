"""The badge URL: what opening ``BASE_URL/b/<token>`` does for each visitor.

anonymous → a sign-in prompt with no personal data, then back here;
the badge's owner → their badge; the event's organizers → check in;
its attendees → connect (organizers who also attend get both).

Also the in-app scanner (``/scan``) and its service worker (``/sw.js``): the
scanner page only renders; scans go through ``POST /api/v1/scans``.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, send_from_directory, url_for
from flask_login import current_user, login_required

from webapp.access import or_404
from webapp.auth.forms import ConfirmForm, EmailOnlyForm
from webapp.database import reads_first
from webapp.extensions import db, limiter
from webapp.organize.door import flash_check_in
from webapp.scan.forms import INTENTS, ConnectForm
from webapp.services import DomainError, badges, checkin, connections, events

bp = Blueprint("scan", __name__)


def _attendance_or_404(token: str):
    return or_404(badges.by_token, token)


@bp.get("/b/<token>")
def badge(token: str):
    attendance = _attendance_or_404(token)
    if not current_user.is_authenticated:
        return render_template("scan/sign_in.html", token=token, form=EmailOnlyForm())
    if attendance.user_id == current_user.id:
        return redirect(url_for("badges.my_badge", ref=attendance.event.slug))
    organizer = events.is_organizer(current_user, attendance.event)
    try:
        connections.check_can_connect(current_user, attendance)
        problem = None
    except DomainError as exc:
        problem = exc
    if problem is not None and not organizer:
        return render_template("scan/cannot_connect.html", attendance=attendance, message=problem.message), 403
    form = ConnectForm(client_id=str(uuid.uuid4()))
    return render_template(
        "scan/connect.html", attendance=attendance, person=attendance.user, organizer=organizer,
        can_connect=problem is None, met_before=connections.contact_for(current_user.id, attendance.user_id),
        form=form, checkin_form=ConfirmForm(),
    )


@bp.post("/b/<token>/connect")
@reads_first  # on SQLite the write lock waits for the writes
@login_required
@limiter.limit("300/minute", key_func=lambda: f"user:{current_user.id}")
def connect(token: str):
    _attendance_or_404(token)
    form = ConnectForm()
    if not form.validate_on_submit():
        flash("That didn't go through. Please try again.", "error")
        return redirect(url_for("scan.badge", token=token))
    try:
        result = connections.record_scan(
            current_user, token, form.client_id.data, note=form.note.data or "", tags=form.tag_list()
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("scan.badge", token=token))
    db.session.commit()
    again = " again" if result.already_connected else ""
    flash(f"Connected with {result.scan.scanned.name}{again}.", "success")
    if result.contact is None:  # a resubmitted form after they removed the contact
        return redirect(url_for("contacts.index"))
    return redirect(url_for("contacts.show", contact_id=result.contact.id))


@bp.post("/b/<token>/check-in")
@login_required
def check_in(token: str):
    attendance = _attendance_or_404(token)
    if not events.is_organizer(current_user, attendance.event):
        abort(404)
    if ConfirmForm().validate_on_submit():
        flash_check_in(checkin.check_in(current_user, attendance))
        db.session.commit()
    return redirect(url_for("scan.badge", token=token))


@bp.get("/scan")
@login_required
def scanner():
    return render_template("scan/scanner.html", intents=INTENTS)


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the site root so its scope can cover /scan and
    the badge pages (its source lives with the other scripts in static/js)."""
    response = send_from_directory(current_app.static_folder, "js/sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"  # browsers check for a new worker on every visit
    return response

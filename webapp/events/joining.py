"""Joining: the public join link (email → sign-in link → one tap) and the
organizer's personal invitation (confirm button → signed in and joined)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user

from webapp.auth.forms import ConfirmForm, EmailOnlyForm
from webapp.auth.routes import LINKS_PER_EMAIL, PER_IP
from webapp.auth.session import email_rate_key
from webapp.events import bp, display
from webapp.events.forms import JoinByEmailForm, JoinForm
from webapp.extensions import db, limiter
from webapp.models import Event
from webapp.services import DomainError, NotFound, events, joining


def _by_code_or_404(code: str) -> Event:
    try:
        return events.by_join_code(code)
    except NotFound:
        abort(404)


def _closed(event: Event, message: str):
    db.session.rollback()
    return render_template("events/join_closed.html", event=event, message=message), 410


def _landing(event: Event) -> str:
    """Where an attendee goes: their badge, or the event page if it was cancelled."""
    if event.cancelled_at is not None:
        return url_for("events.show", ref=event.slug)
    return url_for("badges.my_badge", ref=event.slug)


def _joined(event: Event):
    """After joining: straight to the badge, the screen that matters at the
    event. People the newcomer knows who are going are listed under it, so
    the flash only says so rather than sending them to the event page first."""
    going = display.who_is_going(event)
    if going is None or not going.total:
        flash(f"You're in! This is your badge for {event.name}.", "success")
    else:
        known = "1 person you know is" if going.total == 1 else f"{going.total} people you know are"
        flash(f"You're in! {known} going too: see below your badge.", "success")
    return redirect(_landing(event))


@bp.get("/join/<code>")
def join_page(code: str):
    event = _by_code_or_404(code)
    if events.attendance_of(current_user, event) is not None:
        return redirect(_landing(event))
    try:
        joining.check_joinable(event)
    except DomainError as exc:
        return _closed(event, exc.message)
    form = JoinForm() if current_user.is_authenticated else JoinByEmailForm()
    return render_template("events/join.html", event=event, form=form)


@bp.post("/join/<code>")
@login_required
def join(code: str):
    event = _by_code_or_404(code)
    form = JoinForm()
    if not form.validate_on_submit():
        return redirect(url_for("events.join_page", code=code))
    try:
        joining.join(event, current_user, listed=form.listed.data)
    except DomainError as exc:
        return _closed(event, exc.message)
    db.session.commit()
    return _joined(event)


@bp.post("/join/<code>/email")
@limiter.limit(PER_IP)
@limiter.limit(LINKS_PER_EMAIL, key_func=email_rate_key)
def join_by_email(code: str):
    event = _by_code_or_404(code)
    form = JoinByEmailForm()
    if not form.validate_on_submit():
        return render_template("events/join.html", event=event, form=form), 422
    try:
        joining.request_join_link(event, form.email.data, form.name.data, url_for("events.join_page", code=code))
    except DomainError as exc:
        return _closed(event, exc.message)
    db.session.commit()
    return render_template("events/join_check_email.html", event=event, address=form.email.data)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(PER_IP, methods=["POST"])
def invitation(token: str):
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            invited, _ = joining.accept_invitation(token)
            login_user(invited.user)
            db.session.commit()
            return _joined(invited.event)
        invited = joining.read_invitation(token)
    except DomainError as exc:
        db.session.rollback()
        return render_template("events/invitation_invalid.html", message=exc.message, form=EmailOnlyForm()), 400
    registered = events.attendance_of(invited.user, invited.event) is not None  # e.g. imported by the organizers
    return render_template("events/invitation.html", invitation=invited, form=form, registered=registered)

"""The follow-up inbox page, its action buttons, and the recap email's one-click links."""

from __future__ import annotations

from flask import Blueprint, abort, flash, has_request_context, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.auth.forms import ConfirmForm
from webapp.extensions import db, limiter
from webapp.services import DomainError, contacts, followups, people, tokens

bp = Blueprint("followups", __name__)

DONE_MESSAGES = {
    followups.FOLLOWED_UP: "Marked as followed up.",
    followups.SNOOZE: "Snoozed: it will be back in your follow-ups in a few days.",
    followups.KEEP_IN_TOUCH: "Done: we'll remind you to keep in touch.",
}


@bp.app_context_processor
def followup_count() -> dict:
    """The nav's count of people waiting for a follow-up (signed-in pages only)."""
    if has_request_context() and current_user.is_authenticated:
        return {"followup_count": followups.pending_count(current_user)}
    return {}


def _days() -> int | None:
    raw = request.form.get("days", "")
    return int(raw) if raw.isdigit() else None


@bp.get("/follow-ups")
@login_required
def index():
    groups = [
        (event, [(c, followups.draft(current_user, c), people.card(c.user) if c.user else None) for c in group])
        for event, group in followups.pending(current_user)
    ]
    met_anyone = bool(groups) or bool(contacts.recent(current_user, limit=1))
    return render_template("followups/index.html", groups=groups, met_anyone=met_anyone, cadences=followups.CADENCES,
                           default_cadence=followups.DEFAULT_CADENCE)


@bp.post("/follow-ups/<int:contact_id>/<action>")
@login_required
def act(contact_id: int, action: str):
    if action not in followups.ACTIONS:
        abort(404)
    try:
        contact = contacts.owned(current_user, contact_id)
    except DomainError:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            followups.apply(contact, action, _days())
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(DONE_MESSAGES[action], "success")
    return redirect(url_for("followups.index"))


@bp.route("/f/<token>", methods=["GET", "POST"])  # links whose token names the action
@bp.route("/f/<token>/<action>", methods=["GET", "POST"])
@limiter.limit("60/minute")  # like the sign-in link pages: generous per IP, a venue shares one
def link(token: str, action: str | None = None):
    """GET shows what the link will do; only the confirm button (POST) does it."""
    form = ConfirmForm()
    named = action
    try:
        if form.validate_on_submit():
            contact, action = followups.apply_action(token, named, _days())
            db.session.commit()
            return render_template("followups/link_done.html", contact=contact, action=action,
                                   message=DONE_MESSAGES[action])
        contact, action, days = followups.preview(token, named)
    except tokens.LinkError as exc:
        db.session.rollback()
        return render_template("followups/link_invalid.html", message=exc.message), 400
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("followups.link", token=token, action=named))
    return render_template("followups/link_confirm.html", form=form, contact=contact, action=action, days=days,
                           cadences=followups.CADENCES, default_cadence=followups.DEFAULT_CADENCE,
                           snooze_days=followups.SNOOZE_DAYS)

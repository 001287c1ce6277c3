"""The digest's one-click links (``/touch/<token>``): GET shows what the link
will do, only the confirm button (POST, with CSRF) does it, so mail scanners
that prefetch links change nothing."""

from __future__ import annotations

from flask import flash, render_template
from flask_login import current_user

from webapp.auth.forms import ConfirmForm
from webapp.contacts import bp
from webapp.contacts.forms import TouchForm
from webapp.extensions import db, limiter
from webapp.services import DomainError, cadences, people, tokens, touch_links

DONE_MESSAGES = {
    touch_links.DONE: "Done. The reminder clock starts again from today.",
    touch_links.SNOOZE: f"Snoozed: we'll remind you again in {cadences.SNOOZE_DAYS} days.",
    touch_links.LOG: "Logged. The reminder clock starts again from this touch.",
}


class LinkTouchForm(TouchForm):
    """What kind of touch, and a note. A link's touch is logged as of now
    (back-dating one is for the contact's page)."""

    on = None


def _invalid(exc: tokens.LinkError):
    db.session.rollback()
    status = 403 if isinstance(exc, touch_links.LinkForSomeoneElse) else 400
    return render_template("contacts/touch_link_invalid.html", message=exc.message), status


@bp.route("/touch/<token>", methods=["GET", "POST"])
@limiter.limit("60/minute")  # like the other link pages: generous per IP, a venue shares one
def touch_link(token: str):
    viewer = current_user if current_user.is_authenticated else None
    try:
        contact, action = touch_links.preview(token, viewer)
    except tokens.LinkError as exc:
        return _invalid(exc)
    form = LinkTouchForm() if action == touch_links.LOG else ConfirmForm()
    if form.validate_on_submit():
        logged = {"kind": form.kind.data, "note": form.note.data or ""} if action == touch_links.LOG else {}
        try:
            touch_links.apply(token, viewer, **logged)
        except tokens.LinkError as exc:
            return _invalid(exc)
        except DomainError as exc:
            db.session.rollback()
            target = getattr(form, exc.field or "", None)
            if target is not None:
                target.errors.append(exc.message)
            else:
                flash(exc.message, "error")
        else:
            db.session.commit()
            return render_template("contacts/touch_link_done.html", contact=contact, message=DONE_MESSAGES[action])
    card = people.card(contact.user) if contact.user is not None else None
    page = render_template("contacts/touch_link_confirm.html", form=form, contact=contact, card=card, action=action,
                           cadence=cadences.effective_cadence(contact), snooze_days=cadences.SNOOZE_DAYS)
    return page, 422 if form.errors else 200

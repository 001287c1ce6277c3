"""Email preferences, and the unsubscribe link every non-transactional email carries."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField

from webapp.auth.forms import ConfirmForm
from webapp.extensions import csrf, db, limiter
from webapp.forms_support import REFUSED, submit
from webapp.services import digest, tokens, unsubscribe

bp = Blueprint("preferences", __name__)

WHAT_STOPS = {
    "recaps": "recap emails after events",
    "nudges": "follow-up nudges",
    "digests": "keep-in-touch digests",
    "all": "recaps, follow-up nudges and keep-in-touch digests",
}


class EmailPreferencesForm(FlaskForm):
    recaps = BooleanField("Recaps: the people I met, the morning after an event")
    nudges = BooleanField("Nudges: reminders to follow up with people I met")
    digests = BooleanField("Digests: contacts it's time to get back in touch with")
    digest_weekday = SelectField("Digest day", choices=[SelectChoice(n, day) for n, day in enumerate(digest.WEEKDAYS)],
                                 coerce=int)


def _invalid(message: str):
    db.session.rollback()
    return render_template("preferences/unsubscribe_invalid.html", message=message), 400


@bp.get("/unsubscribe/<token>")
@limiter.limit("60/minute")  # like the other link pages: generous per IP, a venue shares one
def unsubscribe_confirm(token: str):
    """Shows what will stop; only the button (POST) stops it, so link scanners change nothing."""
    try:
        user, kind = unsubscribe.preview(token)
    except tokens.LinkError as exc:
        return _invalid(exc.message)
    return render_template("preferences/unsubscribe_confirm.html", form=ConfirmForm(), user=user,
                           what=WHAT_STOPS[kind])


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no session or CSRF token
@limiter.limit("600/minute")  # one mail provider may POST for many people from one address
def unsubscribe_post(token: str):
    try:
        user, kind = unsubscribe.apply(token)
    except tokens.LinkError as exc:
        return _invalid(exc.message)
    db.session.commit()
    return render_template("preferences/unsubscribe_done.html", user=user, what=WHAT_STOPS[kind])


@bp.route("/settings/email", methods=["GET", "POST"])
@login_required
def email_settings():
    form = EmailPreferencesForm(data={"recaps": current_user.email_recaps, "nudges": current_user.email_nudges,
                                      "digests": current_user.email_digests,
                                      "digest_weekday": current_user.digest_weekday})
    if form.validate_on_submit() and submit(form, unsubscribe.set_preferences, current_user, form.recaps.data,
                                            form.nudges.data, form.digests.data,
                                            form.digest_weekday.data) is not REFUSED:
        flash("Email preferences saved.", "success")
        return redirect(url_for("preferences.email_settings"))
    zone = digest.zone(current_user).key.replace("_", " ")
    form.digest_weekday.description = (f"Sent at {digest.SEND_HOUR:02d}:00 your time ({zone}), only when someone "
                                       "is due, once you've set a cadence on a tag or a contact.")
    return render_template("preferences/email.html", form=form), 422 if form.errors else 200

"""Site admin: the mail log and system health."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request

from webapp.auth.session import admin_required
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.redaction import redact
from webapp.services import mail

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The stored HTML of an email is shown in a sandboxed frame with no scripts.
EMAIL_FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"


@bp.get("")
@admin_required
def index():
    return render_template("admin/index.html", counts=mail.status_counts())


@bp.get("/mail")
@admin_required
def mail_log():
    status = request.args.get("status") or None
    search = (request.args.get("q") or "").strip()[:100] or None
    page = db.paginate(mail.log_query(status, search), per_page=50, error_out=False)
    return render_template(
        "admin/mail_log.html", page=page, status=status, q=search or "", counts=mail.status_counts()
    )


def _readable(body: str) -> str:
    """What an admin may read of a body. With real SMTP delivery the single-use
    links inside are hidden (an admin has no business signing in as a user);
    without a mail server the log is the only inbox, so it shows everything."""
    return redact(body) if current_app.config["MAIL_TRANSPORT"] == "smtp" else body


def _message(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return message


@bp.get("/mail/<int:message_id>")
@admin_required
def mail_message(message_id: int):
    message = _message(message_id)
    return render_template("admin/mail_message.html", message=message, text_body=_readable(message.text_body))


@bp.get("/mail/<int:message_id>/body.html")
@admin_required
def mail_html(message_id: int):
    response = Response(_readable(_message(message_id).html_body), mimetype="text/html")
    response.headers["Content-Security-Policy"] = EMAIL_FRAME_CSP
    return response

"""Site admin: the mail log, system health and user accounts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField

from webapp.auth.forms import ConfirmForm
from webapp.auth.session import admin_required
from webapp.extensions import db
from webapp.forms_support import storable
from webapp.models import OutboxMessage, User
from webapp.redaction import redact
from webapp.services import DomainError, admin_users, audit, health, mail

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The stored HTML of an email is shown in a sandboxed frame with no scripts.
EMAIL_FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"


@bp.get("")
@admin_required
def index():
    return render_template("admin/index.html", counts=mail.status_counts())


@bp.get("/health")
@admin_required
def health_page():
    report = health.check(redis_url=current_app.config["REDIS_URL"])
    return render_template("admin/health.html", health=report, limits=health)


@bp.get("/audit")
@admin_required
def audit_log():
    action = request.args.get("action") if request.args.get("action") in audit.ACTIONS else None
    actor = (request.args.get("actor") or "").replace("\x00", "").strip()[: audit.MAX_SEARCH]
    page = db.paginate(audit.log_query(action, actor), per_page=audit.PER_PAGE, error_out=False)
    return render_template("admin/audit.html", page=page, action=action, actor=actor, actions=audit.ACTIONS)


@bp.get("/mail")
@admin_required
def mail_log():
    status = request.args.get("status") or None
    search = storable(request.args.get("q") or "").strip()[:100] or None
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


# --- Users --------------------------------------------------------------------------------------


class UserActionForm(ConfirmForm):
    """A button on the users list; ``next`` brings the admin back to the same search and page."""

    next = HiddenField()


class RoleForm(UserActionForm):
    """Shape only: the service checks who may change what."""

    role = SelectField("Role", choices=[SelectChoice(role, role.title()) for role in admin_users.ROLES])


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _back(form: FlaskForm) -> str:
    target = form.next.data or ""
    return target if target.startswith("/admin/users") and "\\" not in target else url_for("admin.users")


def _apply(form: FlaskForm, change: Callable[[], None], done: str):
    """Run one service call from a users-list button: commit and say so, or show why not."""
    if form.validate_on_submit():
        try:
            change()
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(done, "success")
    else:
        flash("That didn't work: reload the page and try again.", "error")
    return redirect(_back(form))


@bp.get("/users")
@admin_required
def users():
    search = storable(request.args.get("q") or "").strip()[: admin_users.MAX_SEARCH]
    role = request.args.get("role") if request.args.get("role") in admin_users.ROLES else None
    page = db.paginate(admin_users.search_query(search, role), per_page=admin_users.PER_PAGE, error_out=False)
    return render_template("admin/users.html", page=page, q=search, role=role, roles=admin_users.ROLES,
                           here=request.full_path.rstrip("?"))


@bp.post("/users/<int:user_id>/role")
@admin_required
def user_role(user_id: int):
    user, form = _user(user_id), RoleForm()
    return _apply(form, lambda: admin_users.change_role(current_user, user, form.role.data),
                  f"{user.name} is now an {form.role.data}.")  # attendee, organizer, admin: all "an"


@bp.post("/users/<int:user_id>/disable")
@admin_required
def user_disable(user_id: int):
    user, form = _user(user_id), UserActionForm()
    return _apply(form, lambda: admin_users.disable(current_user, user),
                  f"{user.name}'s account is disabled: they are signed out everywhere and can't sign in.")


@bp.post("/users/<int:user_id>/enable")
@admin_required
def user_enable(user_id: int):
    user, form = _user(user_id), UserActionForm()
    return _apply(form, lambda: admin_users.enable(current_user, user), f"{user.name} can sign in again.")

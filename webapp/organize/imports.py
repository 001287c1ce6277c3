"""Organizer views: registrant import (upload → preview → import with a
progress bar → summary), and the invitee's public "not me / don't contact me"
page. The rules live in webapp.services.registrant_import."""

from __future__ import annotations

import logging

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from webapp.access import organized_event_or_404
from webapp.auth.forms import ConfirmForm
from webapp.auth.session import per_user
from webapp.extensions import csrf, db
from webapp.jobs import import_registrants
from webapp.models import Event, ImportStatus, RegistrantImport
from webapp.organize import bp
from webapp.services import DomainError, NotFound, audit
from webapp.services import registrant_import as service

log = logging.getLogger(__name__)


class UploadForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")],
                     render_kw={"accept": ".csv,.txt,text/csv,text/plain"})


def _import_or_404(event: Event, import_id: int) -> RegistrantImport:
    try:
        return service.get_import(event, import_id)
    except NotFound:
        abort(404)


def _csv(body: str, filename: str) -> Response:
    # A BOM so Excel opens UTF-8 as UTF-8.
    return Response("\ufeff" + body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/events/<ref>/imports", methods=["GET", "POST"])
@login_required
@per_user("10/hour", methods=["POST"])  # each upload parses a file of thousands of rows
def imports(ref: str):
    event = organized_event_or_404(ref)
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            imp = service.create_import(event, current_user, upload.filename or "", upload.read())
        except DomainError as exc:
            db.session.rollback()
            form.file.errors.append(exc.message)
        else:
            audit.record(current_user, "registrants.upload", event=event, subject=f"import {imp.id}")
            db.session.commit()
            return redirect(url_for("organize.import_page", ref=event.slug, import_id=imp.id))
    status = 422 if form.errors else 200
    return render_template("organize/imports.html", event=event, form=form, history=service.imports_of(event)), status


@bp.get("/events/<ref>/imports/template.csv")
@login_required
def import_template(ref: str):
    organized_event_or_404(ref)
    return _csv(service.template_csv(), "registrants-template.csv")


@bp.get("/events/<ref>/imports/<int:import_id>")
@login_required
def import_page(ref: str, import_id: int):
    event = organized_event_or_404(ref)
    imp = _import_or_404(event, import_id)
    preview = service.preview(imp) if imp.status == ImportStatus.PREVIEW.value else None
    return render_template("organize/import.html", event=event, imp=imp, preview=preview, form=ConfirmForm())


@bp.get("/events/<ref>/imports/<int:import_id>/progress")
@login_required
def import_progress(ref: str, import_id: int):
    imp = _import_or_404(organized_event_or_404(ref), import_id)
    return jsonify(service.progress(imp))


@bp.get("/events/<ref>/imports/<int:import_id>/bad-rows.csv")
@login_required
def import_bad_rows(ref: str, import_id: int):
    imp = _import_or_404(organized_event_or_404(ref), import_id)
    return _csv(service.bad_rows_csv(imp), f"import-{imp.id}-rows-left-out.csv")


@bp.post("/events/<ref>/imports/<int:import_id>/start")
@login_required
@per_user("10/hour")  # an import emails everyone it adds
def import_start(ref: str, import_id: int):
    event = organized_event_or_404(ref)
    imp = _import_or_404(event, import_id)
    if ConfirmForm().validate_on_submit():
        try:
            service.start(imp)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            audit.record(current_user, "registrants.import", event=event, subject=f"import {imp.id}")
            db.session.commit()
            try:
                import_registrants(imp.id)  # after the commit, so the worker finds it pending
            except Exception:
                log.exception("could not queue registrant import %s", imp.id)
                flash("The import is saved but couldn't be queued just now. Try again in a moment.", "error")
    return redirect(url_for("organize.import_page", ref=event.slug, import_id=import_id))


@bp.post("/events/<ref>/imports/<int:import_id>/discard")
@login_required
def import_discard(ref: str, import_id: int):
    event = organized_event_or_404(ref)
    imp = _import_or_404(event, import_id)
    if ConfirmForm().validate_on_submit():
        try:
            service.discard(imp)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("organize.import_page", ref=event.slug, import_id=import_id))
        audit.record(current_user, "registrants.discard", event=event, subject=f"import {import_id}")
        db.session.commit()
        flash("Upload discarded: nobody was imported.", "info")
    return redirect(url_for("organize.imports", ref=event.slug))


# --- The invitee's side: public, authorised by the signed link alone -----------------


@bp.route("/not-me/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed link is the credential; mail clients' one-click POST (RFC 8058) has no form token
def not_me(token: str):
    try:
        if request.method == "POST":
            done = service.opt_out(token)
            db.session.commit()
            if request.form.get("List-Unsubscribe") == "One-Click":
                return Response("Done: you won't hear from this event again.\n", mimetype="text/plain")
            return render_template("organize/not_me.html", request_=done, form=ConfirmForm())
        pending = service.read_opt_out(token)
    except DomainError as exc:
        db.session.rollback()
        return render_template("organize/not_me.html", message=exc.message), 400
    return render_template("organize/not_me.html", request_=pending, form=ConfirmForm())

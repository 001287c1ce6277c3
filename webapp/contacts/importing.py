"""Importing contacts from a vCard or CSV file: upload → preview → import
(or cancel). The rules live in webapp.services.contact_import."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from webapp.access import or_404
from webapp.auth.forms import ConfirmForm
from webapp.auth.session import per_user
from webapp.contacts import bp
from webapp.extensions import db
from webapp.forms_support import REFUSED, submit
from webapp.services import DomainError
from webapp.services import contact_import as service


class UploadForm(FlaskForm):
    file = FileField("Contacts file", validators=[FileRequired("Choose a .vcf or .csv file to upload.")],
                     description="A vCard (.vcf) or CSV (.csv) file, up to 5 MB.",
                     render_kw={"accept": ".vcf,.vcard,.csv,text/vcard,text/csv"})


def _upload_or_404(import_id: int):
    return or_404(service.get, current_user, import_id)


@bp.route("/contacts/import", methods=["GET", "POST"])
@login_required
@per_user("10/hour", methods=["POST"])  # each upload parses a file of up to 5 MB
def import_contacts():
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        # One byte over the limit is enough to tell the file is too big.
        data = upload.read(service.MAX_FILE_BYTES + 1)
        done = submit(form, service.create, current_user, upload.filename or "", data, field="file")
        if done is not REFUSED:
            return redirect(url_for("contacts.import_preview", import_id=done.id))
    return render_template("contacts/import.html", form=form), 422 if form.errors else 200


@bp.get("/contacts/import/<int:import_id>")
@login_required
def import_preview(import_id: int):
    upload = _upload_or_404(import_id)
    return render_template("contacts/import_preview.html", upload=upload, plan=service.plan(current_user, upload),
                           form=ConfirmForm())


@bp.post("/contacts/import/<int:import_id>")
@login_required
def import_confirm(import_id: int):
    upload = _upload_or_404(import_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("contacts.import_preview", import_id=import_id))
    try:
        done = service.apply(current_user, upload)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("contacts.import_contacts"))
    db.session.commit()
    counts = {"new": done.of("new"), "updated": done.of("merge"), "unchanged": done.of("unchanged"),
              "skipped": done.bad}
    flash("Imported: " + ", ".join(f"{len(items)} {label}" for label, items in counts.items() if items) + ".",
          "success")
    return redirect(url_for("contacts.index"))


@bp.post("/contacts/import/<int:import_id>/cancel")
@login_required
def import_cancel(import_id: int):
    upload = _upload_or_404(import_id)
    if ConfirmForm().validate_on_submit():
        service.cancel(upload)
        db.session.commit()
        flash("Upload discarded: nothing was imported.", "info")
    return redirect(url_for("contacts.import_contacts"))

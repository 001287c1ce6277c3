"""Your profile: who you are now, and what people who scan you may see."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.access import or_404
from webapp.extensions import db
from webapp.forms_support import REFUSED, submit
from webapp.profile.forms import PhotoForm, ProfileForm, RemovePhotoForm
from webapp.services import DomainError, accounts, profiles
from webapp.services.accounts import get_user

bp = Blueprint("profile", __name__, url_prefix="/profile")


@bp.get("")
@login_required
def show():
    return render_template("profile/show.html", user=current_user)


@bp.route("/edit", methods=["GET", "POST"])
@login_required
def edit():
    form = ProfileForm(obj=current_user)
    back = accounts.safe_next(request.args.get("next"))  # e.g. the badge that asked for a headline
    if form.validate_on_submit() and submit(
        form, profiles.update_profile, current_user, **form.data, field="name"
    ) is not REFUSED:
        flash("Profile saved.", "success")
        return redirect(back or url_for("profile.show"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "profile/edit.html", form=form, photo_form=PhotoForm(), remove_form=RemovePhotoForm(), back=back
    ), status


@bp.post("/photo")
@login_required
def upload_photo():
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            profiles.set_photo(current_user, form.photo.data.read())
        except DomainError as exc:
            form.photo.errors.append(exc.message)
        else:
            db.session.commit()
            flash("Photo saved.", "success")
            return redirect(url_for("profile.edit"))
    # formdata=None: this POST carried only the photo, so the profile form shows the
    # saved values (else its unchecked-looking switches would turn sharing off on save).
    profile_form = ProfileForm(formdata=None, obj=current_user)
    return render_template(
        "profile/edit.html", form=profile_form, photo_form=form, remove_form=RemovePhotoForm()
    ), 422


@bp.post("/photo/delete")
@login_required
def remove_photo():
    if RemovePhotoForm().validate_on_submit():
        profiles.remove_photo(current_user)
        db.session.commit()
        flash("Photo removed.", "info")
    return redirect(url_for("profile.edit"))


@bp.get("/<int:user_id>/photo.jpg")
@login_required
def photo(user_id: int):
    user = or_404(get_user, user_id)
    if not profiles.can_view(current_user, user) or not user.has_photo:
        abort(404)
    response = Response(user.photo, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response

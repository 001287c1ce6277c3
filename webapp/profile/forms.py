"""Profile forms (shape only; rules in services.profiles)."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TelField, TextAreaField, URLField
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms_support import Form
from webapp.services.profiles import timezones


class ProfileForm(Form):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)], render_kw={"autocomplete": "name"})
    headline = StringField(
        "Headline",
        validators=[Optional(), Length(max=160)],
        description="One line about what you do now, e.g. “Product designer moving into climate tech”.",
    )
    company = StringField(
        "Company", validators=[Optional(), Length(max=120)], render_kw={"autocomplete": "organization"}
    )
    looking_for = TextAreaField(
        "What I'm looking for now",
        validators=[Optional(), Length(max=1000)],
        description="Your current goals: people you'd like to meet, help you need or can offer.",
    )
    linkedin_url = URLField("LinkedIn", validators=[Optional(), Length(max=255)], render_kw={"placeholder": "https://www.linkedin.com/in/you"})
    phone = TelField("Phone", validators=[Optional(), Length(max=40)], render_kw={"autocomplete": "tel"})
    timezone = SelectField("Time zone", validators=[InputRequired()])
    share_email = BooleanField("My email address")
    share_phone = BooleanField("My phone number")
    share_linkedin = BooleanField("My LinkedIn profile")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(z, z.replace("_", " ")) for z in timezones()]


class PhotoForm(Form):
    photo = FileField(
        "Photo",
        validators=[
            FileRequired("Choose a photo."),
            FileAllowed(["jpg", "jpeg", "png", "webp"], "Upload a JPEG, PNG or WebP image."),
        ],
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class RemovePhotoForm(Form):
    pass

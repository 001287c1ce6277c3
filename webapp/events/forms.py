"""Event forms. They check shape only; the rules live in services.events and services.joining."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from webapp.auth.forms import EMAIL
from webapp.forms_support import Form
from webapp.services.profiles import timezones

WHEN = "%Y-%m-%dT%H:%M"
NAME = [InputRequired(), Length(max=120)]
# value in minutes after the end ("" = the default, 09:00 event-local the morning after)
FOLLOWUP_CHOICES = [
    SelectChoice("", "Next morning, 09:00 (default)"),
    SelectChoice("60", "1 hour after it ends"),
    SelectChoice("180", "3 hours after it ends"),
    SelectChoice("720", "12 hours after it ends"),
    SelectChoice("1440", "24 hours after it ends"),
    SelectChoice("2880", "2 days after it ends"),
]


def _minutes(value: object) -> int | None:
    return None if value in (None, "", "None") else int(value)  # type: ignore[arg-type]


class EventForm(Form):
    name = StringField("Event name", validators=[InputRequired(), Length(max=160)])
    venue = StringField("Venue", validators=[Optional(), Length(max=200)],
                        description="Where people should go, e.g. “LX Factory, Rua Rodrigues Faria 103, Lisbon”.")
    timezone = SelectField("Time zone", validators=[InputRequired()],
                           description="Start and end are clock times in this zone.")
    starts_at = DateTimeLocalField("Starts", format=WHEN, validators=[InputRequired("Enter when it starts.")])
    ends_at = DateTimeLocalField("Ends", format=WHEN, validators=[InputRequired("Enter when it ends.")])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    followup_delay_minutes = SelectField(
        "Send attendees their recap", choices=FOLLOWUP_CHOICES, coerce=_minutes, validate_choice=True,
        description="The recap lists everyone they met, with a drafted follow-up for each.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(z, z.replace("_", " ")) for z in timezones()]
        current = self.followup_delay_minutes.data
        if current is not None and str(current) not in {choice.value for choice in FOLLOWUP_CHOICES}:
            # a delay set elsewhere (API, CLI) stays selectable
            custom = SelectChoice(str(current), f"{current} minutes after it ends")
            self.followup_delay_minutes.choices = [*FOLLOWUP_CHOICES, custom]

    def values(self) -> dict:
        return {name: self.data[name] for name in (
            "name", "venue", "timezone", "starts_at", "ends_at", "description", "followup_delay_minutes")}


class _Prefixed(Form):
    """Several forms share the event page: a prefix keeps their field ids apart."""

    prefix_name = ""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("prefix", self.prefix_name)
        super().__init__(*args, **kwargs)


class InviteForm(_Prefixed):
    prefix_name = "invite"
    name = StringField("Their name", validators=NAME)
    email = EmailField("Their email", validators=EMAIL)


class CoOrganizerForm(_Prefixed):
    prefix_name = "organizer"
    email = EmailField("Co-organizer's email", validators=EMAIL,
                       description="They get the same rights as you on this event.")


class JoinByEmailForm(Form):
    name = StringField("Your name", validators=NAME, render_kw={"autocomplete": "name"})
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "email"})


class JoinForm(Form):
    listed = BooleanField("Show me on the “who's here” list")


class ListedForm(Form):
    listed = BooleanField("Show me on the “who's here” list")


class JoinLinkForm(Form):
    enabled = BooleanField("Anyone with the link may join")

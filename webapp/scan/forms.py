"""The connect step: a five-second note and one-tap intent chips."""

from __future__ import annotations

from wtforms import HiddenField, SelectChoice, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms_support import Form

# One-tap intents: they become tags, and shape the drafted follow-up and later reminders.
INTENTS = ("Refer a client", "Invite to an event", "Share an article", "Introduce someone")


class ChipsField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ConnectForm(Form):
    client_id = HiddenField(validators=[InputRequired(), Length(max=64)])
    note = TextAreaField(
        "Note (only you see it)",
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 2, "placeholder": "Met at the coffee bar; wants intros to solar investors"},
    )
    intents = ChipsField("Follow up by…", choices=[SelectChoice(i) for i in INTENTS], validators=[Optional()])
    tags = StringField(
        "Tags", validators=[Optional(), Length(max=300)], description="Separate tags with commas.",
        render_kw={"placeholder": "investor, lisbon"},
    )

    def tag_list(self) -> list[str]:
        typed = [t.strip() for t in (self.tags.data or "").split(",")]
        return [*(self.intents.data or []), *(t for t in typed if t)]

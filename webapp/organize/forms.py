"""Organizer forms. They check shape only; the rules live in the services.

Each organizer page keeps its forms in its own section below.
"""

from __future__ import annotations

from wtforms import EmailField, HiddenField, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from webapp.auth.forms import EMAIL
from webapp.contacts.forms import QuickSelect
from webapp.forms_support import Form, storable
from webapp.services.attendees import MAX_SEARCH, SORTS, ListQuery

# --- Attendee list and door (webapp/organize/attendees.py, door.py) ----------------------------

YES_NO = {"yes": True, "no": False}


class AttendeeFilterForm(Form):
    """The list's query string. A value it doesn't know means "no filter"."""

    class Meta:
        csrf = False

    q = SearchField("Search name, email or company", validators=[Optional(), Length(max=MAX_SEARCH)],
                    filters=[storable])
    checked_in = SelectField(
        "Check-in",
        choices=[SelectChoice("", "Everyone"), SelectChoice("yes", "Checked in"), SelectChoice("no", "Not checked in")],
        validate_choice=False, widget=QuickSelect(),
    )
    connections = SelectField(
        "Connections", choices=[SelectChoice("", "Everyone"), SelectChoice("yes", "Met someone"),
                 SelectChoice("no", "Met nobody yet")],
        validate_choice=False, widget=QuickSelect(),
    )
    sort = HiddenField()

    def list_query(self) -> ListQuery:
        return ListQuery(
            search=(self.q.data or "").strip()[:MAX_SEARCH],
            checked_in=YES_NO.get(self.checked_in.data or ""),
            has_connections=YES_NO.get(self.connections.data or ""),
            sort=self.sort.data if self.sort.data in SORTS else "name",
        )

    def args(self, **changes: str | int | None) -> dict[str, str | int]:
        """The query string for a link that keeps this view (``changes`` applied)."""
        query = self.list_query()
        values: dict[str, str | int | None] = {
            "q": query.search or None,
            "checked_in": self.checked_in.data if query.checked_in is not None else None,
            "connections": self.connections.data if query.has_connections is not None else None,
            "sort": query.sort if query.sort != "name" else None,
            **changes,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}


class DoorSearchForm(Form):
    class Meta:
        csrf = False

    q = SearchField(
        "Name, email or badge code", validators=[Optional(), Length(max=MAX_SEARCH)], filters=[storable],
        render_kw={"autofocus": True, "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
                   "enterkeyhint": "search", "placeholder": "e.g. Ana or 7KQ M3X"},
    )


class CheckInForm(Form):
    q = HiddenField(validators=[Optional(), Length(max=MAX_SEARCH)], filters=[storable])  # the search to come back to


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class WalkInForm(Form):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)], filters=[_strip],
                       render_kw={"autocomplete": "off"})
    # Phone keyboards add a space after a suggested address.
    email = EmailField("Email", validators=EMAIL, filters=[_strip], render_kw={"autocomplete": "off"})
    company = StringField("Company (optional)", validators=[Optional(), Length(max=120)],
                          render_kw={"autocomplete": "off"})

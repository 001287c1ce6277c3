"""Address book forms. They check shape only; the rules live in the services."""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import DateField, EmailField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Email, InputRequired, Length, Optional
from wtforms.widgets import Select, html_params

from webapp.forms_support import Form, storable
from webapp.models import FollowUpState
from webapp.services import cadences, contact_list, contacts, tags

NO_CADENCE = ""


def _int_or_none(value: object) -> int | None:
    """Form text or model data to a whole number; anything else is "none"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


class QuickSelect(Select):
    """WTForms' single select, the same markup, with each option written out
    directly: its general per-option rendering is most of what a list page's
    filter bar costs, and those render on every view of the list."""

    def __call__(self, field, **kwargs):
        if self.multiple or field.has_groups():
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        for flag in self.validation_attrs:
            if flag not in kwargs and getattr(field.flags, flag, False):
                kwargs[flag] = True
        options = []
        for choice in field._iter_choices_normalized():
            if choice.render_kw or isinstance(choice.value, bool):
                options.append(super().render_option(choice))
            else:
                selected = "selected " if choice.selected else ""
                label = choice.label or choice.value
                options.append(f'<option {selected}value="{escape(choice.value)}">{escape(label)}</option>')
        # Values and labels are escaped above, and html_params escapes the attributes.
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{''.join(options)}</select>")  # noqa: S704


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def cadence_choices(none_label: str) -> list[SelectChoice]:
    return choices([(NO_CADENCE, none_label)] + [(str(days), f"Every {label}") for days, label in cadences.CHOICES])


class NoteForm(Form):
    note = TextAreaField("Private note", validators=[Optional(), Length(max=contacts.MAX_NOTE)], render_kw={"rows": 4})


class ContactForm(Form):
    """Someone who is not (or not yet) on MeetLoop."""

    name = StringField("Name", validators=[Length(max=120)], render_kw={"autocomplete": "off"})
    email = EmailField("Email", validators=[Optional(), Email(check_deliverability=False,
                                                              message="Enter a valid email address."),
                                            Length(max=254)])
    phone = StringField("Phone", validators=[Length(max=40)], render_kw={"inputmode": "tel"})
    company = StringField("Company", validators=[Length(max=120)])
    headline = StringField("Headline", validators=[Length(max=160)], description="What they do, in a line.")

    def values(self) -> dict[str, str]:
        return {name: self[name].data or "" for name in contacts.FIELDS}


class NewContactForm(ContactForm):
    note = TextAreaField("Private note", validators=[Optional(), Length(max=contacts.MAX_NOTE)], render_kw={"rows": 3})
    tags = StringField("Tags", validators=[Length(max=700)], description="Separate tags with commas.")


class TouchForm(Form):
    kind = SelectField("What did you do?", choices=choices((k.value, cadences.LABELS[k]) for k in cadences.LOGGABLE))
    on = DateField("When", validators=[Optional()], description="Leave empty for today.")
    note = TextAreaField("Note", validators=[Optional(), Length(max=cadences.MAX_NOTE)], render_kw={"rows": 2})


class CadenceForm(Form):
    cadence = SelectField("Keep in touch", choices=cadence_choices("Follow its tags"), coerce=_int_or_none,
                          validate_choice=False)


class TagsForm(Form):
    tags = StringField("Tags", validators=[Length(max=700)], description="Separate tags with commas.",
                       render_kw={"list": "tag-names", "autocomplete": "off"})

    def names(self) -> list[str]:
        return [part for part in (self.tags.data or "").split(",") if part.strip()]


class TagCadenceForm(Form):
    cadence = SelectField("Cadence", choices=cadence_choices("No reminders"), coerce=_int_or_none,
                          validate_choice=False)


class RenameTagForm(Form):
    name = StringField("Name", validators=[InputRequired(), Length(max=tags.MAX_LENGTH)])


class BulkTagForm(Form):
    """Tag or untag the contacts ticked on the list (``contact`` checkboxes)."""

    action = SelectField("With the selected people", choices=choices([("tag", "Add tag"), ("untag", "Remove tag")]),
                         widget=QuickSelect())
    tag = StringField("Tag", validators=[InputRequired(message="Name a tag."), Length(max=tags.MAX_LENGTH)],
                      render_kw={"list": "tag-names", "autocomplete": "off"})
    back = HiddenField()


class FilterForm(Form):
    """The list's search and filters (GET, so no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Length(max=contact_list.MAX_SEARCH)], filters=[storable],
                    render_kw={"type": "search", "placeholder": "Name, company, note…"})
    tag = SelectField("Tag", coerce=_int_or_none, validate_choice=False, widget=QuickSelect())
    event = SelectField("Met at", coerce=_int_or_none, validate_choice=False, widget=QuickSelect())
    state = SelectField("Follow-up", choices=choices([("", "Any")] + [(s.value, s.value.replace("_", " ").capitalize())
                                                                        for s in FollowUpState]),
                        validate_choice=False, widget=QuickSelect())
    sort = SelectField("Sort by", choices=choices(contact_list.SORTS.items()), validate_choice=False,
                       widget=QuickSelect())

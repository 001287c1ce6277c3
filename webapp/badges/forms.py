"""Badge forms. They check shape only; services.badge_sheets holds the rules."""

from __future__ import annotations

from wtforms import HiddenField

from webapp.forms_support import Form


class MarkPrintedForm(Form):
    # "id:code,id:code": the badges the organizer saw as unprinted. Left out: all unprinted ones.
    badges = HiddenField()


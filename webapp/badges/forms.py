"""Badge forms. They check shape only; services.badge_sheets holds the rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField


class MarkPrintedForm(FlaskForm):
    # "id:code,id:code": the badges the organizer saw as unprinted. Left out: all unprinted ones.
    badges = HiddenField()


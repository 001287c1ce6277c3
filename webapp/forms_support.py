"""What every form shares: the base class with the text rules, and one way
for form views to run a service call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField
from wtforms.widgets import TextArea

from webapp.extensions import db
from webapp.services import DomainError
from webapp.services.profiles import text_problem

T = TypeVar("T")
REFUSED = object()


class Form(FlaskForm):
    """The base of every form: on top of each field's own validators, a text
    field may not hold NUL (PostgreSQL can't store it), and a one-line field
    (anything but a text area) no line break or other control character.

    Browsers never put a line break into a one-line input, so one there comes
    from a crafted request; refusing it keeps names out of email headers and
    keeps what is saved the same as what was shown.
    """

    def validate(self, extra_validators: dict[str, list[Any]] | None = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            problem = field_text_problem(field)
            if problem:
                field.errors = [*field.errors, problem]
                valid = False
        return valid


def field_text_problem(field: Field) -> str | None:
    if not isinstance(field.data, str) or isinstance(field, PasswordField):
        return None
    return text_problem(field.data, multiline=isinstance(field.widget, TextArea))


def storable(value: object) -> object:
    """A filter for search boxes: characters that can't be stored or matched
    (NUL) are dropped rather than refused, so a list still shows."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def submit(form: FlaskForm, change: Callable[..., T], *args: Any, field: str | None = None, **kwargs: Any) -> Any:
    """Run ``change(*args, **kwargs)`` for a valid form and commit.

    If the service refuses (DomainError), roll back and show its message on
    the field it names — else on ``field``, else as a flash — and return
    :data:`REFUSED`; otherwise return what the service returned.
    """
    try:
        result = change(*args, **kwargs)
    except DomainError as exc:
        db.session.rollback()
        target = getattr(form, exc.field or field or "", None)
        if target is not None and hasattr(target, "errors"):
            target.errors.append(exc.message)
        else:
            flash(exc.message, "error")
        return REFUSED
    db.session.commit()
    return result

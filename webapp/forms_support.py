"""One way for form views to run a service call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash
from flask_wtf import FlaskForm

from webapp.extensions import db
from webapp.services import DomainError

T = TypeVar("T")
REFUSED = object()


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

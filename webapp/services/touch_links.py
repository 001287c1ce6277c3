"""The digest's one-click links: done (a touch), snooze a week, log a touch.

Each link is a signed single-use token (:mod:`webapp.services.tokens`) naming
one contact, its owner and one action, so it is worth nothing for any other
contact. Opening it only shows what it will do; the confirm button does it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.extensions import db
from webapp.models import Contact, InteractionKind, User
from webapp.services import ValidationFailed, cadences, tokens
from webapp.services.mail import external_url

PURPOSE = "touch-action"
LINK_MAX_AGE = 14 * 24 * 3600  # a week's digest stays usable until the next one has come and gone
DONE, SNOOZE, LOG = "done", "snooze", "log"
ACTIONS = (DONE, SNOOZE, LOG)
LOGGABLE = tuple(kind.value for kind in cadences.LOGGABLE)


class LinkForSomeoneElse(tokens.LinkError):
    code = "link_for_someone_else"


def link(contact: Contact, action: str) -> str:
    """Absolute signed single-use link doing ``action`` on ``contact``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown touch action {action!r}")
    return external_url("contacts.touch_link",
                        token=tokens.make(PURPOSE, c=contact.id, o=contact.owner_id, a=action))


def links(contact: Contact) -> dict[str, str]:
    """One link per action for ``contact``."""
    return {action: link(contact, action) for action in ACTIONS}


def _resolve(payload: dict[str, Any], viewer: User | None) -> tuple[Contact, str]:
    contact = db.session.get(Contact, payload.get("c"))
    if contact is None or contact.owner_id != payload.get("o") or contact.deleted_at is not None:
        raise tokens.LinkError("This contact is no longer in your address book.")
    if payload.get("a") not in ACTIONS:
        raise tokens.LinkError("This link is not valid.")
    # Signed in as someone else (a shared computer, a forwarded email): refuse
    # rather than change another person's address book from this account.
    if viewer is not None and viewer.id != contact.owner_id:
        raise LinkForSomeoneElse("This link belongs to another MeetLoop account.")
    return contact, payload["a"]


def preview(token: str, viewer: User | None = None) -> tuple[Contact, str]:
    """What the link will do, without doing it: (contact, action). ``viewer``
    is the signed-in person, if any: only the contact's owner may use it."""
    return _resolve(tokens.read(PURPOSE, token, LINK_MAX_AGE), viewer)


def _check_log(kind: str | None, note: str) -> None:
    if kind not in LOGGABLE:
        raise ValidationFailed("Choose what kind of touch it was.", field="kind")
    if len((note or "").strip()) > cadences.MAX_NOTE:
        raise ValidationFailed(f"Keep the note under {cadences.MAX_NOTE} characters.", field="note")


def apply(token: str, viewer: User | None = None, *, kind: str | None = None, note: str = "",
          now: datetime | None = None) -> tuple[Contact, str]:
    """Spend the link and do what it says: log a touch ("done" is one of kind
    "other"; "log" takes ``kind`` and ``note``) or snooze a week. Refuses a
    bad kind or note before spending the link, so the person can fix it."""
    contact, action = preview(token, viewer)
    if action == LOG:
        _check_log(kind, note)
    tokens.spend(PURPOSE, token, LINK_MAX_AGE)
    if action == SNOOZE:
        cadences.snooze(contact, now=now)
    else:
        cadences.log_touch(contact, kind if action == LOG else InteractionKind.OTHER.value, at=now, note=note)
    return contact, action

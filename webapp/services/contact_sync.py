"""Keeping a device's copy of the address book in step: every change, in order.

Contacts are listed in order of last change, oldest first, then by id, so a
client can page with a position ``(updated_at, id)`` and never miss or repeat
one: a contact changed while a client pages moves to the end and comes again.
Removed contacts are included (the caller shows them as tombstones), so a
device learns about removals too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Contact, User

MAX_PAGE = 500


@dataclass(frozen=True)
class Page:
    contacts: list[Contact]
    more: bool  # there are further changes after the last one here


def changes(
    owner: User, *, since: datetime | None = None, after: tuple[datetime, int] | None = None, limit: int = 100
) -> Page:
    """``owner``'s contacts changed at or after ``since`` and strictly after the
    position ``after``, at most ``limit`` (1 to 500) of them."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Contact).where(Contact.owner_id == owner.id)
    if since is not None:
        query = query.where(Contact.updated_at >= since)
    if after is not None:
        at, contact_id = after
        query = query.where(or_(Contact.updated_at > at, and_(Contact.updated_at == at, Contact.id > contact_id)))
    rows = list(
        db.session.scalars(
            query.options(selectinload(Contact.user), selectinload(Contact.event), selectinload(Contact.tags))
            .order_by(Contact.updated_at, Contact.id)
            .limit(limit + 1)
        )
    )
    return Page(contacts=rows[:limit], more=len(rows) > limit)

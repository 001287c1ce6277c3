"""The address book: one entry per person a user knows, with private notes and tags."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import ColumnElement

from webapp.models.base import Base, utcnow
from webapp.models.event import Event
from webapp.models.user import User, search_text


class ContactSource(enum.StrEnum):
    SCAN = "scan"
    IMPORT = "import"
    MANUAL = "manual"


class FollowUpState(enum.StrEnum):
    NEW = "new"
    FOLLOWED_UP = "followed_up"
    DONE = "done"
    SNOOZED = "snoozed"


class InteractionKind(enum.StrEnum):
    """Ways of keeping in touch; each one resets the contact's reminder clock."""

    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"
    REFERRAL = "referral"
    INVITE = "invite"
    ARTICLE = "article"
    OTHER = "other"
    FOLLOWED_UP = "followed_up"  # marked followed up after an event
    MET = "met"  # met again at an event (a new scan)


SOURCES = tuple(s.value for s in ContactSource)
STATES = tuple(s.value for s in FollowUpState)
INTERACTION_KINDS = tuple(k.value for k in InteractionKind)

contact_tag = Table(
    "contact_tag",
    Base.metadata,
    Column("contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    # A tag's people (the primary key leads with the contact): the address book filtered by a tag.
    Index("ix_contact_tag_tag_id", "tag_id", "contact_id"),
)


class Tag(Base):
    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    cadence_days: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """``owner``'s entry for someone. Linked to ``user`` when that person is on
    MeetLoop (their *current* profile is shown, filtered by their sharing
    choices); otherwise the imported fields describe them."""

    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("owner_id", "user_id"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source_known"),
        CheckConstraint(f"state IN {STATES!r}", name="state_known"),
        Index("ix_contact_owner_updated", "owner_id", "updated_at"),
        Index("ix_contact_owner_email", "owner_id", "email"),
        {"sqlite_autoincrement": True},  # one-click links name contacts by id: never reuse one
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16), default=ContactSource.SCAN.value)
    # How we met: the first event, and when.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"), index=True)
    met_at: Mapped[datetime | None]
    # Imported or manual contacts only (linked ones show the person's profile).
    name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    company: Mapped[str] = mapped_column(String(120), default="")
    headline: Mapped[str] = mapped_column(String(160), default="")

    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default=FollowUpState.NEW.value)
    scanned_me: Mapped[bool] = mapped_column(default=False)  # they scanned my badge (vs. I scanned theirs)
    last_touched_at: Mapped[datetime | None]
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)
    snoozed_until: Mapped[datetime | None]
    cadence_days: Mapped[int | None]
    followed_up_at: Mapped[datetime | None]
    # Reminders sent about this contact while it waited for a follow-up (0, 1 or 2).
    nudges_sent: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    event: Mapped[Event | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tag, order_by=Tag.name)


class newest_first(ColumnElement):  # named like the SQL it writes
    """``expr DESC`` in an index, with NULLS LAST on PostgreSQL (where DESC puts
    NULLs first); SQLite's DESC already puts them last and may not say so."""

    inherit_cache = True

    def __init__(self, expr) -> None:
        self.expr = expr


@compiles(newest_first)
def _newest_first(element, compiler, **kw):
    return f"{compiler.process(element.expr, **kw)} DESC"


@compiles(newest_first, "postgresql")
def _newest_first_postgresql(element, compiler, **kw):
    return f"{compiler.process(element.expr, **kw)} DESC NULLS LAST"


# The address book's default order (last in touch first, contact_list): read
# from this index, not sorted, however many contacts someone has.
Index("ix_contact_owner_recent", Contact.owner_id, newest_first(func.coalesce(Contact.last_touched_at, Contact.met_at)),
      Contact.id.desc())
# Someone's live contacts by follow-up state and event: the nav's follow-up count
# on every page, the address book's total and its list of events, from the index.
Index("ix_contact_owner_live", Contact.owner_id, Contact.deleted_at, Contact.state, Contact.event_id)
# The events where someone met their live contacts, one index probe per event
# (contact_list.summary): not a read of every contact to find a few events.
Index("ix_contact_owner_event", Contact.owner_id, Contact.event_id,
      postgresql_where=Contact.deleted_at.is_(None) & Contact.event_id.is_not(None),
      sqlite_where=Contact.deleted_at.is_(None) & Contact.event_id.is_not(None))


def own_search_text(contact=Contact) -> ColumnElement[str]:
    """What a search looks in among ``contact``'s own columns (the class or an
    alias): the name, headline, company and email given for them, and the
    owner's note. The search itself takes a member's name from their profile."""
    return search_text(contact.name, contact.headline, contact.company, contact.email, contact.note)


# Substring search of an address book (PostgreSQL's pg_trgm; SQLite reads the rows).
Index("ix_contact_search", own_search_text().label("search_text"), postgresql_using="gin",
      postgresql_ops={"search_text": "gin_trgm_ops"}, postgresql_with={"fastupdate": "off"},
      ).ddl_if(dialect="postgresql")


class Interaction(Base):
    """One touch with a contact: logged by the owner, or recorded when they
    follow up or meet again. Private to the contact's owner."""

    __tablename__ = "interaction"
    __table_args__ = (
        CheckConstraint(f"kind IN {INTERACTION_KINDS!r}", name="kind_known"),
        Index("ix_interaction_contact_at", "contact_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship()
    event: Mapped[Event | None] = relationship()

"""Registrant imports: an organizer's uploaded list, kept in the database
(not on local disk, so any web host or worker can read it), and the people
who asked not to be imported into an event again."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from webapp.models.base import Base, utcnow
from webapp.models.event import Event
from webapp.models.user import User


class ImportStatus(enum.StrEnum):
    PREVIEW = "preview"  # parsed and checked; waits for the organizer's "Import N people"
    PENDING = "pending"  # confirmed; queued for the worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # stopped part-way (see ``error``); trying again resumes at ``processed``


IMPORT_STATUS_VALUES = tuple(s.value for s in ImportStatus)


class RegistrantImport(Base):
    __tablename__ = "registrant_import"
    __table_args__ = (CheckConstraint(f"status IN {IMPORT_STATUS_VALUES!r}", name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.PREVIEW.value)
    # The good rows, [[line, email, name, company, headline], ...] in file order;
    # the bad ones, [[line, value, reason], ...]; and notes about the file as a whole.
    # Deferred: the progress poll never loads a 10,000-row list.
    rows: Mapped[list[Any]] = deferred(mapped_column(JSON, nullable=False))
    bad_rows: Mapped[list[Any]] = deferred(mapped_column(JSON, nullable=False))
    notes: Mapped[list[Any]] = mapped_column(JSON, default=list)

    total: Mapped[int] = mapped_column(default=0)  # good rows
    processed: Mapped[int] = mapped_column(default=0)  # good rows done so far (the resume point)
    created: Mapped[int] = mapped_column(default=0)  # new accounts, registered
    attached: Mapped[int] = mapped_column(default=0)  # existing accounts, registered
    skipped: Mapped[int] = mapped_column(default=0)  # already registered (or a disabled account): unchanged
    opted_out: Mapped[int] = mapped_column(default=0)  # asked not to be added to this event
    bad: Mapped[int] = mapped_column(default=0)  # rows left out by the checks
    error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship()
    uploaded_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<RegistrantImport {self.id} {self.status} {self.processed}/{self.total}>"


class RegistrantOptOut(Base):
    """Someone who used the "not me / don't contact me" link of an imported
    invitation: no import adds (or emails) that address for this event again.
    Keyed by address, since an account the import made may be deleted."""

    __tablename__ = "registrant_opt_out"

    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

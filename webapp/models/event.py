"""Events and who attends them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Base, utcnow
from webapp.models.user import User


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        {"sqlite_autoincrement": True},  # invitation links name events by id: never reuse one
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    venue: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    join_code: Mapped[str] = mapped_column(String(32), unique=True)
    # Anyone with the join link (``/join/<join_code>``) may register while this is on.
    join_enabled: Mapped[bool] = mapped_column(default=True)
    # None means the default: 09:00 event-local the morning after it ends.
    followup_delay_minutes: Mapped[int | None]
    cancelled_at: Mapped[datetime | None]
    # When every recap email was recorded in the outbox (None: not yet).
    recaps_queued_at: Mapped[datetime | None]
    # A run composing the recaps holds this lease (renewed every batch); one
    # that died leaves it to expire, and the next run finishes the job.
    recaps_claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Event {self.slug}>"


class EventOrganizer(Base):
    """A co-organizer: same rights on the event as its owner."""

    __tablename__ = "event_organizer"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        UniqueConstraint("event_id", "badge_code"),
        # How many registered and checked in, from the index alone (attendee list, dashboard, door).
        Index("ix_attendance_event_checked_in", "event_id", "checked_in_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    badge_token: Mapped[str] = mapped_column(String(64), unique=True)
    badge_code: Mapped[str] = mapped_column(String(12))
    listed: Mapped[bool] = mapped_column(default=False)  # opted in to the "who's here" list
    # How the person came: join (public link), invite, import, walk_in, cli, demo.
    registered_via: Mapped[str] = mapped_column(String(16), default="join")
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    badge_printed_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    checked_in_by: Mapped[User | None] = relationship(foreign_keys=[checked_in_by_id])

"""Accounts: who a person is now, what they share, and how they sign in."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from webapp.models.base import Base, utcnow


class Role(enum.StrEnum):
    ATTENDEE = "attendee"
    ORGANIZER = "organizer"
    ADMIN = "admin"


ROLE_VALUES = tuple(r.value for r in Role)


class User(UserMixin, Base):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role_known"),
        CheckConstraint("digest_weekday BETWEEN 0 AND 6", name="digest_weekday_valid"),
        # Links and sessions name users by id: SQLite must never hand a deleted one's id to someone new.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.ATTENDEE.value)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    # Bumped by "sign out everywhere" and password changes: every session and
    # remember-me cookie carries it, so old ones stop matching.
    session_version: Mapped[int] = mapped_column(default=1)

    # Who I am now.
    name: Mapped[str] = mapped_column(String(120))
    headline: Mapped[str] = mapped_column(String(160), default="")
    company: Mapped[str] = mapped_column(String(120), default="")
    looking_for: Mapped[str] = mapped_column(Text, default="")
    linkedin_url: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    photo_version: Mapped[int] = mapped_column(default=0)

    # What a person who scans my badge may see beyond name and headline.
    share_email: Mapped[bool] = mapped_column(default=True)
    share_phone: Mapped[bool] = mapped_column(default=False)
    share_linkedin: Mapped[bool] = mapped_column(default=True)

    # Which non-transactional emails I get; each has its own one-click unsubscribe.
    email_recaps: Mapped[bool] = mapped_column(default=True)
    email_nudges: Mapped[bool] = mapped_column(default=True)
    email_digests: Mapped[bool] = mapped_column(default=True)
    # The weekly "keep in touch" digest goes out on this day (0 = Monday), 09:00 local,
    # once the person has set a cadence on a tag or a contact.
    digest_weekday: Mapped[int] = mapped_column(default=0)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return not self.is_disabled

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_organizer(self) -> bool:
        return self.role in (Role.ORGANIZER, Role.ADMIN)

    @property
    def has_photo(self) -> bool:
        return self.photo_version > 0

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

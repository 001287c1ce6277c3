"""Accounts: who a person is now, what they share, and how they sign in."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Index, LargeBinary, String, Text, func, literal_column
from sqlalchemy.orm import Mapped, deferred, mapped_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, Grouping
from sqlalchemy.sql.expression import ColumnElement

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


# A constant in the SQL, never a parameter: PostgreSQL uses an index on an
# expression only for that very expression, constants and all.
_LINE_BREAK = literal_column("'\n'", String)


def search_text(*columns) -> ColumnElement[str]:
    """``columns`` lower-cased and joined by line breaks, which no search term
    spans (searches collapse whitespace): a term found in this text is in one
    of the columns. The trigram indexes below are on such texts.

    Parenthesised as PostgreSQL writes the indexed expression back, so that
    ``flask db check`` sees the models and the database agree.
    """
    joined = columns[0]
    for n, column in enumerate(columns[1:]):
        if n:
            joined = Grouping(joined)
        joined = _concat(Grouping(_concat(joined, _LINE_BREAK)), column)
    return func.lower(joined)


def _concat(left, right) -> ColumnElement[str]:
    # Not ``left.concat(right)``, which flattens a chain of ``||`` into one list without the parentheses.
    return BinaryExpression(left, right, operators.concat_op, type_=String())


def profile_search_text(user=User) -> ColumnElement[str]:
    """Everything about ``user`` (the class or an alias of it) that a search
    looks in: name, headline, company and email. Searches narrow it down
    themselves (attendee lists ignore headlines, address books emails not
    shared), so the index finds a superset that the exact test then checks."""
    return search_text(user.name, user.headline, user.company, user.email)


# Attendee lists and the door, by name: walked in order, a page at a time.
Index("ix_user_lower_name", func.lower(User.name), User.id)
# Substring search of people (PostgreSQL's pg_trgm; SQLite reads the rows).
Index("ix_user_search", profile_search_text().label("search_text"), postgresql_using="gin",
      postgresql_ops={"search_text": "gin_trgm_ops"}, postgresql_with={"fastupdate": "off"},
      ).ddl_if(dialect="postgresql")

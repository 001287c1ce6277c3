"""Single-use link bookkeeping."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, utcnow


class UsedToken(Base):
    """The nonce of a signed link that has been spent.

    Links are stateless signed payloads; the unique primary key makes spending
    one atomic, so two clicks racing each other cannot both sign in.
    """

    __tablename__ = "used_token"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

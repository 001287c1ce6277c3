"""An address book someone uploaded and hasn't imported yet.

The file waits in the database between the preview and the "Import" button
(not on local disk, so any web host can show the preview and apply it). It is
deleted once imported or cancelled; stale uploads are purged.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from webapp.models.base import Base, utcnow
from webapp.models.user import User


class ImportKind(enum.StrEnum):
    VCARD = "vcard"
    CSV = "csv"


IMPORT_KINDS = tuple(k.value for k in ImportKind)


class ContactImport(Base):
    __tablename__ = "contact_import"
    __table_args__ = (CheckConstraint(f"kind IN {IMPORT_KINDS!r}", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    # Deferred: listing or deleting uploads never loads a 5 MB file.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ContactImport {self.id} {self.kind} {self.filename!r}>"

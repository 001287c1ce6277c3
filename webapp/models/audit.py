"""Operational records: who did what as an organizer or admin, and when the worker last ran."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Base, utcnow
from webapp.models.event import Event


class AuditEntry(Base):
    """One organizer or admin action, written in the action's own transaction.

    The actor's email is a snapshot: the entry keeps saying who acted after
    the account is renamed or deleted (``actor_id`` is then unlinked, like
    ``event_id`` when the event goes). ``subject`` names what was acted on by
    id ("user 12"), never by a person's details, and ``detail`` never holds
    secrets or anyone's notes.
    """

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    actor_email: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(120), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str | None] = mapped_column(String(45))

    event: Mapped[Event | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action}>"


class WorkerHeartbeat(Base):
    """When a periodic task last started, and on which host: a worker that
    stopped running shows up as an old ``beat_at`` on the admin health page."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime]
    host: Mapped[str] = mapped_column(String(255), default="")

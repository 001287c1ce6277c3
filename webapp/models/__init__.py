"""All models, importable from one place (Alembic autogenerate reads this)."""

from webapp.models.base import Base, utcnow
from webapp.models.event import Attendance, Event, EventOrganizer
from webapp.models.outbox import OutboxMessage, OutboxStatus, SuppressedAddress
from webapp.models.token import UsedToken
from webapp.models.user import Role, User

__all__ = [
    "Attendance",
    "Base",
    "Event",
    "EventOrganizer",
    "OutboxMessage",
    "OutboxStatus",
    "Role",
    "SuppressedAddress",
    "UsedToken",
    "User",
    "utcnow",
]

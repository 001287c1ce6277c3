"""All models, importable from one place (Alembic autogenerate reads this)."""

from webapp.models.api_token import ApiToken
from webapp.models.audit import AuditEntry, WorkerHeartbeat
from webapp.models.base import Base, utcnow
from webapp.models.connection import Block, Scan
from webapp.models.contact import (
    Contact,
    ContactSource,
    FollowUpState,
    Interaction,
    InteractionKind,
    Tag,
    contact_tag,
)
from webapp.models.contact_import import ContactImport, ImportKind
from webapp.models.event import Attendance, Event, EventOrganizer
from webapp.models.outbox import OutboxMessage, OutboxStatus, SuppressedAddress
from webapp.models.registrant_import import ImportStatus, RegistrantImport, RegistrantOptOut
from webapp.models.token import UsedToken
from webapp.models.user import Role, User

__all__ = [
    "ApiToken",
    "Attendance",
    "AuditEntry",
    "Base",
    "Block",
    "Contact",
    "ContactImport",
    "ContactSource",
    "Event",
    "EventOrganizer",
    "FollowUpState",
    "ImportKind",
    "ImportStatus",
    "Interaction",
    "InteractionKind",
    "OutboxMessage",
    "OutboxStatus",
    "RegistrantImport",
    "RegistrantOptOut",
    "Role",
    "Scan",
    "SuppressedAddress",
    "Tag",
    "UsedToken",
    "User",
    "WorkerHeartbeat",
    "contact_tag",
    "utcnow",
]

"""What one person may see of another: their current profile, filtered by
the sharing choices they made. Enforced here, on the server, for pages and
the API alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Attendance, Event, EventOrganizer, User


@dataclass(frozen=True)
class Card:
    """A person as someone they met sees them *now*."""

    user_id: int
    name: str
    headline: str
    company: str
    looking_for: str
    has_photo: bool
    photo_version: int
    email: str | None
    phone: str | None
    linkedin_url: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def card(person: User) -> Card:
    """``person``'s card for someone they connected with: name and headline
    always, email/phone/LinkedIn only if they chose to share them."""
    return Card(
        user_id=person.id,
        name=person.name,
        headline=person.headline,
        company=person.company,
        looking_for=person.looking_for,
        has_photo=person.has_photo,
        photo_version=person.photo_version,
        email=person.email if person.share_email else None,
        phone=person.phone if person.share_phone and person.phone else None,
        linkedin_url=person.linkedin_url if person.share_linkedin and person.linkedin_url else None,
    )



def share_an_event(viewer: User, subject: User) -> bool:
    """True if ``viewer`` attends or organizes an event ``subject`` attends."""
    subject_events = select(Attendance.event_id).where(Attendance.user_id == subject.id)
    attends = select(Attendance.id).where(Attendance.user_id == viewer.id, Attendance.event_id.in_(subject_events))
    organizes = select(Event.id).where(
        Event.id.in_(subject_events),
        (Event.owner_id == viewer.id)
        | Event.id.in_(select(EventOrganizer.event_id).where(EventOrganizer.user_id == viewer.id)),
    )
    return db.session.scalar(attends.limit(1)) is not None or db.session.scalar(organizes.limit(1)) is not None

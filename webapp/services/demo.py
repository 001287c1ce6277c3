"""Demo data for ``make run``: fixed logins, varied people, a past and an upcoming event."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import NamedTuple

from webapp.models import Role, utcnow
from webapp.services import accounts, cadences, connections, contacts, digest, events, tags


class Login(NamedTuple):
    role: str
    email: str
    password: str


DEMO_PASSWORD = "meetloop-demo"  # noqa: S105 - published demo login
LOGINS = (
    Login(Role.ADMIN.value, "admin@meetloop.example", DEMO_PASSWORD),
    Login(Role.ORGANIZER.value, "organizer@meetloop.example", DEMO_PASSWORD),
    Login(Role.ATTENDEE.value, "ana@meetloop.example", DEMO_PASSWORD),
)

# name, email local part, headline, company, looking for, time zone
PEOPLE = (
    ("Ana Souza", "ana", "Product designer moving into climate tech", "Solara",
     "Founders working on grid storage who need a design partner.", "Europe/Lisbon"),
    ("Ben Okafor", "ben", "Backend engineer, payments and ledgers", "Tally",
     "A team lead role at an early-stage fintech.", "Europe/London"),
    ("Chloé Martin", "chloe", "Community lead for developer events", "Open Hardware Paris",
     "Speakers for our spring meetup series.", "Europe/Paris"),
    ("Dmitri Volkov", "dmitri", "Data scientist, forecasting for retail", "Kassa Analytics",
     "Retailers willing to pilot demand forecasting.", "Europe/Berlin"),
    ("Emma Lindqvist", "emma", "Angel investor, B2B SaaS", "Independent",
     "Pre-seed founders in logistics and supply chain.", "Europe/Stockholm"),
    ("Farah Haddad", "farah", "Head of people, scaling from 50 to 200", "Brightwave",
     "Recruiters who know the Lisbon engineering market.", "Europe/Lisbon"),
    ("Gabriel Ortiz", "gabriel", "Freelance iOS developer", "Self-employed",
     "Contract work from March; health and fitness apps.", "Europe/Madrid"),
    ("Hana Kobayashi", "hana", "UX researcher, accessibility", "Mirai Labs",
     "Teams that want usability testing with disabled users.", "Asia/Tokyo"),
    ("Ivan Petrov", "ivan", "CTO, developer tools startup", "Shipfast",
     "Senior frontend engineers; advisors on open-source licensing.", "Europe/Sofia"),
    ("Julia Nowak", "julia", "Marketing lead, just left agency life", "Looking",
     "In-house growth roles at mission-driven companies.", "Europe/Warsaw"),
    ("Kwame Mensah", "kwame", "Founder, solar micro-grids in Ghana", "SunLink",
     "Impact investors and hardware supply partners.", "Africa/Accra"),
    ("Lena Fischer", "lena", "Engineering manager, mobile platform", "Rail&Go",
     "Peers to swap notes on hiring and on-call culture.", "Europe/Berlin"),
)


def _local(day: datetime, hour: int, zone: str) -> datetime:
    return datetime.combine(day.date(), time(hour), tzinfo=events.zone(zone))


def seed() -> bool:
    """Create the demo once. Returns False (and changes nothing) if it exists."""
    if accounts.find_by_email(LOGINS[1].email) is not None:
        return False
    accounts.create_user(LOGINS[0].email, "Sam Admin", password=DEMO_PASSWORD, role=Role.ADMIN.value, verified=True)
    organizer = accounts.create_user(
        LOGINS[1].email, "Olivia Reyes", password=DEMO_PASSWORD, role=Role.ORGANIZER.value, verified=True,
        headline="Runs the Lisbon Tech Mixer", company="Mixer Events", timezone="Europe/Lisbon",
    )
    people = []
    for name, local, headline, company, looking_for, tz in PEOPLE:
        people.append(accounts.create_user(
            f"{local}@meetloop.example", name,
            password=DEMO_PASSWORD if local == "ana" else None, verified=True,
            headline=headline, company=company, looking_for=looking_for, timezone=tz,
            phone="+351 912 345 678" if local == "ana" else "",
            linkedin_url=f"https://www.linkedin.com/in/{local}-demo",
        ))

    today = utcnow()
    past = events.create_event(
        organizer, "Lisbon Tech Mixer — Autumn",
        _local(today - timedelta(days=2), 18, "Europe/Lisbon"),
        _local(today - timedelta(days=2), 21, "Europe/Lisbon"),
        "Europe/Lisbon", venue="LX Factory, Lisbon",
        description="An evening of short talks and a lot of meeting people.",
    )
    upcoming = events.create_event(
        organizer, "Lisbon Tech Mixer — Winter",
        _local(today + timedelta(days=12), 18, "Europe/Lisbon"),
        _local(today + timedelta(days=12), 22, "Europe/Lisbon"),
        "Europe/Lisbon", venue="Hub Criativo do Beato, Lisbon",
        description="Bring your badge, meet ten new people, follow up the next morning.",
    )
    badges = {person.id: events.add_attendee(past, person, via="demo") for person in people}
    for person in people[: len(people) - 3]:
        events.add_attendee(upcoming, person, via="demo")
    _check_ins(past, organizer, badges)
    _meetings(past, people, badges)
    _address_book(people[0], today)
    return True


NOTES = (
    "Wants intros to grid-storage founders",
    "Hiring two backend engineers in Q1",
    "Runs a monthly meetup — might speak there",
    "Looking for a pilot customer in retail",
    "Great chat about accessibility testing",
    "Send him the article on micro-grids",
    "",
    "",
)
INTENT_TAGS = ("Refer a client", "Invite to an event", "Share an article", "Introduce someone")


def _check_ins(event, organizer, badges) -> None:
    """Everyone registered the week before; most arrived in the first hour; one never came."""
    for n, attendance in enumerate(badges.values()):
        attendance.registered_at = event.starts_at - timedelta(days=7, hours=n)
    for n, attendance in enumerate(list(badges.values())[:-1]):
        attendance.checked_in_at = event.starts_at + timedelta(minutes=3 + 4 * n)
        attendance.checked_in_by_id = organizer.id


def _meetings(event, people, badges) -> None:
    """Realistic scans over the evening: everyone meets a few people, a few meet twice."""
    rng = random.Random(2026)
    minutes = (event.ends_at - event.starts_at).total_seconds() / 60
    for n, person in enumerate(people):
        others = [p for p in people if p.id != person.id]
        for k, other in enumerate(rng.sample(others, rng.randint(2, 5))):
            when = event.starts_at + timedelta(minutes=rng.uniform(5, minutes - 5))
            tags = [rng.choice(INTENT_TAGS)] if rng.random() < 0.6 else []
            connections.record_scan(
                person, badges[other.id].badge_token, f"demo-{n}-{k}", scanned_at=when,
                note=rng.choice(NOTES), tags=tags,
            )


# Ana's older relationships: name, email, company, headline, tags, (days ago, kind, note) of the last touch.
OLD_CONTACTS = (
    ("Marta Silva", "marta@solara.example", "Solara", "Former design lead, now in Berlin", ("Former colleagues",),
     (130, "call", "Talked about her move to Berlin and a possible climate-tech role")),
    ("Rui Costa", "rui@costa.example", "Costa & Filhos", "Operations director", ("Former colleagues",),
     (210, "meeting", "Lunch near the old office")),
    ("Tomás Pereira", "tomas@pereira.example", "Freelance", "Brand strategist", ("Former colleagues",),
     (40, "email", "Sent him the Solara case study")),
    ("Inês Duarte", "ines@greenport.example", "Greenport", "Head of product", ("Clients",),
     (45, "referral", "Referred a UX researcher to her team")),
    ("Paul Grant", "paul@acme.example", "Acme Logistics", "VP Operations", ("Clients",),
     (10, "article", "Shared the piece on route optimisation")),
)
# Imported long ago and never touched since: the Reactivate suggestion.
DORMANT = (("Sofia Almeida", "sofia@almeida.example", "Almeida Arquitetos"),
           ("Henrik Berg", "henrik@berg.example", "Nordlys Energy"))
CADENCES = {"Former colleagues": 90, "Clients": 30}


def _address_book(ana, today) -> None:
    """Tagged contacts with cadences, a history of touches, some overdue: a real losing-touch list."""
    for name, email, company, headline, tag_names, (days_ago, kind, note) in OLD_CONTACTS:
        entry = contacts.create(ana, source="manual", name=name, email=email, company=company, headline=headline)
        entry.created_at = today - timedelta(days=400)
        tags.add(entry, tag_names)
        cadences.log_touch(entry, kind, at=today - timedelta(days=days_ago), note=note)
    for name, email, company in DORMANT:
        entry = contacts.create(ana, source="import", name=name, email=email, company=company)
        entry.created_at = today - timedelta(days=500)
    for tag_name, days in CADENCES.items():
        cadences.set_tag_cadence(tags.find(ana.id, tag_name), days)
    # This week's digest, as it went out this morning: her digest day is today.
    ana.digest_weekday = today.astimezone(events.zone(ana.timezone)).weekday()
    digest.queue_for([ana], today)

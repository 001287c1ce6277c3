"""The weekly keep-in-touch digest: when it is due (the clock passed in,
across zones and daylight saving changes), who gets one (only once a cadence
exists, only with someone due, never after switching it off), what it lists
(overdue first, a limit, one reason each). The reasons are in
tests/test_digest_reasons.py; once-only delivery and the links over SMTP in
tests/test_digest_delivery.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import BASE_URL
from tests.factories import in_context, make_user
from webapp.extensions import db
from webapp.models import Contact, OutboxMessage
from webapp.services import cadences, digest, tags, unsubscribe

LISBON = ZoneInfo("Europe/Lisbon")
MONDAY = datetime(2026, 6, 15, 9, 0, tzinfo=LISBON)  # 08:00 UTC (WEST)


def add_contact(app, owner, person=None, *, touched=None, cadence: int | None = 30, name="", **fields) -> Contact:
    """``owner``'s contact (a member when ``person`` is given), last in touch
    at ``touched``, kept in touch every ``cadence`` days."""
    with in_context(app) as detach:
        contact = Contact(owner_id=owner.id, user_id=person.id if person else None,
                          source="scan" if person else "manual", state="done", name=name,
                          met_at=touched, last_touched_at=touched, **fields)
        db.session.add(contact)
        db.session.flush()
        if cadence:
            cadences.set_contact_cadence(contact, cadence)
        db.session.commit()
        if detach:
            db.session.refresh(contact)
            db.session.expunge(contact)
        return contact


def digest_rows(recipient: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
    if recipient is not None:
        query = query.where(OutboxMessage.recipient == recipient)
    return list(db.session.scalars(query))


def run(now: datetime) -> int:
    queued = digest.queue_due(now)
    db.session.commit()
    return queued


@pytest.fixture
def ann(ctx):
    """Ann (Lisbon, digest on Mondays) keeps in touch monthly with Bob (a
    member, last in touch 40 days before MONDAY: due) and Cal (5 days: not)."""
    ann = make_user(ctx, "ann@example.com", name="Ann Archer", timezone="Europe/Lisbon")
    bob = make_user(ctx, "bob@example.com", name="Bob Baker", headline="Designer", company="Studio B")
    add_contact(ctx, ann, bob, touched=MONDAY - timedelta(days=40))
    add_contact(ctx, ann, name="Cal Clark", touched=MONDAY - timedelta(days=5))
    return ann


# --- When ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "weekday", "local_day", "due_utc"), [
    ("Europe/Lisbon", 0, datetime(2026, 6, 15), datetime(2026, 6, 15, 8, 0)),  # WEST, UTC+1
    # Daylight saving ended in Lisbon on Sunday 25 Oct 2026: 09:00 WET is 09:00 UTC.
    ("Europe/Lisbon", 0, datetime(2026, 10, 26), datetime(2026, 10, 26, 9, 0)),
    # ...and started on Sunday 29 March 2026: that very morning 09:00 is WEST, 08:00 UTC.
    ("Europe/Lisbon", 6, datetime(2026, 3, 29), datetime(2026, 3, 29, 8, 0)),
    # Daylight saving started in New York on Sunday 8 Mar 2026: Monday 09:00 EDT is 13:00 UTC.
    ("America/New_York", 0, datetime(2026, 3, 9), datetime(2026, 3, 9, 13, 0)),
    # Tokyo's Monday 09:00 is Monday 00:00 UTC; Auckland's is still Sunday in UTC.
    ("Asia/Tokyo", 0, datetime(2026, 6, 15), datetime(2026, 6, 15, 0, 0)),
    ("Pacific/Auckland", 0, datetime(2026, 6, 15), datetime(2026, 6, 14, 21, 0)),
])
def test_the_digest_is_due_at_nine_local_on_the_chosen_day(ctx, zone, weekday, local_day, due_utc):
    user = make_user(ctx, timezone=zone)
    user.digest_weekday = weekday
    due = due_utc.replace(tzinfo=UTC)
    assert due.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == local_day.replace(hour=9)

    assert digest.due_time(user, due + timedelta(hours=3)) == due
    assert not digest.is_due_day(user, due - timedelta(seconds=1))
    assert digest.is_due_day(user, due)
    assert digest.is_due_day(user, due + digest.STALE_AFTER - timedelta(seconds=1))
    assert not digest.is_due_day(user, due + digest.STALE_AFTER)  # too late: skipped, not sent
    assert not digest.is_due_day(user, due + timedelta(days=1))
    user.digest_weekday = (weekday + 1) % 7
    assert not digest.is_due_day(user, due)
    assert digest.dedupe_key(user, due) == f"digest:{user.id}:{local_day.date().isoformat()}"


def test_it_goes_out_on_the_chosen_day_once_and_late_ones_are_skipped(ann):
    assert run(MONDAY - timedelta(minutes=1)) == 0
    assert run(MONDAY) == 1
    assert run(MONDAY + timedelta(hours=2)) == 0  # same day: already recorded
    assert run(MONDAY + timedelta(days=1)) == 0  # not her day
    assert run(MONDAY + timedelta(days=7, hours=12, minutes=1)) == 0  # next week, but 12 hours late
    assert run(MONDAY + timedelta(days=14)) == 1
    assert [r.dedupe_key for r in digest_rows()] == [f"digest:{ann.id}:2026-06-15", f"digest:{ann.id}:2026-06-29"]


def test_the_day_is_the_one_the_person_chose(ann):
    unsubscribe.set_preferences(ann, True, True, True, digest_weekday=3)
    db.session.commit()
    assert run(MONDAY) == 0
    assert run(MONDAY + timedelta(days=3)) == 1


# --- Who gets one ---------------------------------------------------------------------------


def test_it_is_off_until_a_cadence_exists(ctx):
    ann = make_user(ctx, "ann@example.com", timezone="Europe/Lisbon")
    contact = add_contact(ctx, ann, name="Dee Dunn", touched=MONDAY - timedelta(days=300), cadence=None)
    cadences.snooze(contact, now=MONDAY - timedelta(days=8))  # a reminder date, but no cadence anywhere
    db.session.commit()
    assert cadences.due(ann, MONDAY) == [contact] and not cadences.has_cadence(ann)
    assert run(MONDAY) == 0

    tags.add(contact, ["Former colleagues"])
    tag = tags.get_or_create(ann, "Former colleagues")
    cadences.set_tag_cadence(tag, 90)
    db.session.commit()
    assert run(MONDAY + timedelta(hours=1)) == 1


@pytest.mark.parametrize("switch_off", ["preferences", "unsubscribe_link", "unsubscribe_all", "disabled",
                                        "unverified"])
def test_nobody_who_switched_digests_off_gets_one(ann, switch_off):
    if switch_off == "preferences":
        unsubscribe.set_preferences(ann, recaps=True, nudges=True, digests=False)
    elif switch_off.startswith("unsubscribe"):
        kind = "digests" if switch_off == "unsubscribe_link" else "all"
        unsubscribe.apply(unsubscribe.link(ann, kind).rsplit("/", 1)[1])
    elif switch_off == "disabled":
        ann.is_disabled = True
    else:
        ann.email_verified = False
    db.session.commit()
    assert run(MONDAY) == 0 and digest_rows() == []


def test_nothing_is_sent_when_nobody_is_due(ann):
    (bob,) = cadences.due(ann, MONDAY)
    cadences.log_touch(bob, "call", at=MONDAY - timedelta(days=1))
    db.session.commit()
    assert cadences.has_cadence(ann) and cadences.due(ann, MONDAY) == []
    assert run(MONDAY) == 0


def test_removed_contacts_are_not_due(ann):
    (bob,) = cadences.due(ann, MONDAY)
    bob.deleted_at = MONDAY - timedelta(days=1)
    db.session.commit()
    assert run(MONDAY) == 0


# --- What it lists ------------------------------------------------------------------------------


def test_the_most_overdue_come_first_and_a_long_list_links_to_the_rest(ctx, ann):
    for n in range(16):  # 16 more, last in touch 31 to 46 days before MONDAY (Bob: 40)
        add_contact(ctx, ann, name=f"Person {n:02d}", touched=MONDAY - timedelta(days=31 + n))
    assert run(MONDAY) == 1
    (row,) = digest_rows()
    assert row.subject == "17 people to get back in touch with"
    listed = re.findall(r"^\d+\. (.+?)(?: ·|$)", row.text_body, flags=re.M)
    assert listed == [f"Person {n:02d}" for n in range(15, 9, -1)] + ["Bob Baker"] + [
        f"Person {n:02d}" for n in range(9, 1, -1)]
    assert "Cal Clark" not in row.text_body  # not due
    for body in (row.text_body, row.html_body):
        assert "And 2 more" in body and f"{BASE_URL}/contacts/losing-touch" in body


def test_each_person_comes_with_who_they_are_now_a_reason_and_three_links(ann):
    run(MONDAY)
    (row,) = digest_rows("ann@example.com")
    assert row.subject == "1 person to get back in touch with"
    assert row.dedupe_key == f"digest:{ann.id}:2026-06-15"
    for body in (row.text_body, row.html_body):
        assert "Bob Baker" in body and "Designer, Studio B" in body
        assert "Last in touch 1 month ago" in body
        assert "They're now Designer at Studio B — ask how it's going." in body.replace("&#39;", "'")
        assert body.count(f"{BASE_URL}/touch/") == 3
        assert "Snooze a week" in body and "Log a touch" in body
        assert f"{BASE_URL}/unsubscribe/" in body and f"{BASE_URL}/settings/email" in body
        assert "Mondays at 09:00 (Europe/Lisbon)" in body
        assert "bob@example.com" not in body
    assert "List-Unsubscribe: <" + BASE_URL + "/unsubscribe/" in row.extra_headers
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in row.extra_headers


def test_people_get_their_own_digest_in_one_run(ctx, ann):
    zed = make_user(ctx, "zed@example.com", name="Zed", timezone="Asia/Tokyo")
    add_contact(ctx, zed, name="Yve", touched=MONDAY - timedelta(days=100))
    # 09:00 Monday in Lisbon is 17:00 in Tokyo: both slots are open.
    assert run(MONDAY) == 2
    assert {r.recipient for r in digest_rows()} == {"ann@example.com", "zed@example.com"}
    assert "Yve" in digest_rows("zed@example.com")[0].text_body
    assert "Yve" not in digest_rows("ann@example.com")[0].text_body


def csrf_token(page) -> str:
    """The CSRF token every page carries (in its ``<meta name="csrf-token">``)."""
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)

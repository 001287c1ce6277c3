"""Event rules, tested on the services: times and zones, organizers,
cancelling, joining and leaving, badges, invitations, "who's here" and the
follow-up time. Time passes by moving an event, never by sleeping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.conftest import BASE_URL
from tests.factories import make_event, make_user
from webapp.extensions import db
from webapp.models import Attendance, Block, OutboxMessage, User, utcnow
from webapp.services import DomainError, ValidationFailed, accounts, badges, events, joining, tokens

NY = "America/New_York"  # clocks go forward at 02:00 on Sun 8 March 2026


def organizer(ctx, email: str = "olga@example.com") -> User:
    return make_user(ctx, email, name="Olga Organizer", role="organizer", password=None)


def person(ctx, email: str | None = None, **kwargs) -> User:
    return make_user(ctx, email, password=None, **kwargs)


def mails(kind: str | None = None, to: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if to:
        query = query.where(OutboxMessage.recipient == to)
    return list(db.session.scalars(query))


def link_in(message: OutboxMessage, fragment: str) -> str:
    links = [link for link in re.findall(re.escape(BASE_URL) + r"\S+", message.text_body) if fragment in link]
    assert links, message.text_body
    return links[0]


def move(event, *, starts_in: timedelta, hours: int = 3) -> None:
    """Put the event ``starts_in`` from now (negative: it started already)."""
    event.starts_at = utcnow() + starts_in
    event.ends_at = event.starts_at + timedelta(hours=hours)
    db.session.commit()


# --- Creating and editing: local times in, UTC stored, local times back out ----------


def test_local_times_are_stored_as_utc_across_a_dst_change_and_shown_back_in_the_zone(ctx):
    event = events.create_event(organizer(ctx), "Night Hack", datetime(2026, 3, 7, 20, 0), datetime(2026, 3, 8, 10, 0),
                                NY)
    db.session.commit()
    db.session.expire_all()
    assert event.starts_at == datetime(2026, 3, 8, 1, 0, tzinfo=UTC)  # 20:00 EST (UTC-5)
    assert event.ends_at == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 10:00 EDT (UTC-4)
    assert events.local(event, event.starts_at).replace(tzinfo=None) == datetime(2026, 3, 7, 20, 0)
    assert events.local(event, event.ends_at).replace(tzinfo=None) == datetime(2026, 3, 8, 10, 0)
    assert (events.local(event, event.starts_at).tzname(), events.local(event, event.ends_at).tzname()) == (
        "EST", "EDT")


def test_times_with_an_offset_are_converted_whatever_the_events_zone(ctx):
    starts = datetime.fromisoformat("2026-06-01T18:00:00+09:00")
    event = events.create_event(organizer(ctx), "Tokyo call", starts, starts + timedelta(hours=2), "Europe/Lisbon")
    assert event.starts_at == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert events.local(event, event.starts_at).strftime("%H:%M %Z") == "10:00 WEST"


def test_a_wall_clock_time_skipped_by_the_dst_change_is_refused(ctx):
    with pytest.raises(ValidationFailed) as error:
        events.create_event(organizer(ctx), "Gap", datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 5, 0), NY)
    assert error.value.field == "starts_at"
    assert "doesn't exist" in error.value.message


@pytest.mark.parametrize("length", [timedelta(0), timedelta(hours=-1)], ids=["same-time", "before"])
def test_an_event_must_end_after_it_starts(ctx, length):
    start = datetime(2026, 5, 14, 18, 30)
    with pytest.raises(ValidationFailed) as error:
        events.create_event(organizer(ctx), "Backwards", start, start + length, "Europe/Lisbon")
    assert error.value.field == "ends_at"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe", "", "../etc"])
def test_an_unknown_zone_is_refused_on_the_zone_field(ctx, name):
    with pytest.raises(ValidationFailed) as error:
        events.create_event(organizer(ctx), "Nowhere", datetime(2026, 5, 14, 18), datetime(2026, 5, 14, 20), name)
    assert error.value.field == "timezone"


def test_editing_converts_local_times_keeps_the_slug_and_tells_attendees_about_a_new_time(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer", days_from_now=30)
    slug = event.slug
    events.add_attendee(event, person(ctx, "ana@example.com"))
    start = (utcnow() + timedelta(days=40)).replace(hour=19, minute=0, second=0, microsecond=0, tzinfo=None)

    told = events.update_event(event, name="Spring Mixer (moved)", starts_at=start, ends_at=start + timedelta(hours=3),
                               timezone="Asia/Tokyo", venue="Shibuya")
    db.session.commit()

    assert told is True
    assert event.slug == slug
    assert event.starts_at == start.replace(tzinfo=events.zone("Asia/Tokyo")).astimezone(UTC)
    assert events.local(event, event.starts_at).hour == 19
    assert [m.recipient for m in mails("event_changed")] == ["ana@example.com"]

    told = events.update_event(event, name="Spring Mixer (moved)", starts_at=start, ends_at=start + timedelta(hours=3),
                               timezone="Asia/Tokyo", venue="Shibuya", description="Now with snacks.")
    assert told is False
    assert len(mails("event_changed")) == 1


def test_a_refused_edit_changes_nothing(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    before = (event.name, event.starts_at, event.ends_at)
    with pytest.raises(ValidationFailed):
        events.update_event(event, name="Renamed", starts_at=datetime(2026, 5, 14, 18),
                            ends_at=datetime(2026, 5, 14, 17), timezone="Europe/Lisbon")
    assert (event.name, event.starts_at, event.ends_at) == before


# --- Organizers and cancelling ------------------------------------------------------


def test_co_organizers_are_added_by_email_and_can_be_removed(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    colleague = person(ctx, "cole@example.com", name="Cole League")
    assert not events.is_organizer(colleague, event)

    added = events.add_co_organizer(event, owner, "  COLE@example.com ")
    db.session.commit()
    assert added.id == colleague.id
    assert events.is_organizer(colleague, event)
    assert events.co_organizers(event) == [colleague]
    assert [m.recipient for m in mails("event_coorganizer")] == ["cole@example.com"]

    with pytest.raises(ValidationFailed, match="already organizes"):
        events.add_co_organizer(event, owner, "cole@example.com")
    with pytest.raises(ValidationFailed, match="already organizes"):
        events.add_co_organizer(event, owner, owner.email)

    events.remove_co_organizer(event, colleague)
    db.session.commit()
    assert not events.is_organizer(colleague, event)
    with pytest.raises(ValidationFailed):
        events.remove_co_organizer(event, owner)
    assert events.is_organizer(owner, event)


def test_a_co_organizer_without_an_account_gets_a_passwordless_one(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    newcomer = events.add_co_organizer(event, owner, "new.helper@example.com")
    assert (newcomer.email, newcomer.name, newcomer.password_hash, newcomer.role) == (
        "new.helper@example.com", "new.helper", None, "attendee")
    assert events.is_organizer(newcomer, event)


def test_cancelling_emails_every_attendee_once_and_closes_the_event(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    for email in ("a@example.com", "b@example.com"):
        events.add_attendee(event, person(ctx, email))

    events.cancel_event(event)
    db.session.commit()

    assert event.cancelled_at is not None
    assert sorted(m.recipient for m in mails("event_cancelled")) == ["a@example.com", "b@example.com"]
    with pytest.raises(events.EventClosed):
        events.cancel_event(event)
    with pytest.raises(events.EventClosed):
        events.update_event(event, name="Back on", starts_at=event.starts_at, ends_at=event.ends_at,
                            timezone=event.timezone)
    assert len(mails("event_cancelled")) == 2


def test_an_event_that_is_over_cannot_be_cancelled(ctx):
    event = make_event(ctx, organizer(ctx), "Last Week")
    move(event, starts_in=timedelta(days=-7))
    with pytest.raises(events.EventClosed):
        events.cancel_event(event)
    assert event.cancelled_at is None


# --- Joining, badges, leaving ---------------------------------------------------------


def test_joining_creates_one_attendance_with_an_unguessable_badge_and_joining_again_changes_nothing(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    ana = person(ctx, "ana@example.com")

    first = joining.join(event, ana, listed=True)
    db.session.commit()
    again = joining.join(event, ana)
    db.session.commit()

    assert again.id == first.id
    assert (again.badge_token, again.badge_code, again.listed) == (first.badge_token, first.badge_code, True)
    assert len(db.session.scalars(select(Attendance).where(Attendance.event_id == event.id)).all()) == 1
    assert first.registered_via == "join"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first.badge_token)  # 24 random bytes
    assert badges.by_token(first.badge_token).id == first.id


def test_badge_codes_are_short_typeable_and_unique_within_an_event(ctx):
    owner = organizer(ctx)
    event, other = make_event(ctx, owner, "Spring Mixer"), make_event(ctx, owner, "Autumn Summit")
    people = [person(ctx) for _ in range(40)]
    codes = [events.add_attendee(event, person).badge_code for person in people]

    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == events.BADGE_CODE_LENGTH
        assert set(code) <= set(events.BADGE_ALPHABET)
        assert not set(code) & set("01OIL")  # nothing to misread off paper
        typed = f"{code[:3].lower()}-{code[3:].lower()}"
        assert [a.badge_code for a in badges.by_code(typed)] == [code]

    # The database refuses a second holder of a code at the same event, not at another event.
    db.session.commit()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(Attendance(event_id=event.id, user_id=owner.id, badge_token="x" * 32, badge_code=codes[0]))
    elsewhere = Attendance(event_id=other.id, user_id=owner.id, badge_token="y" * 32, badge_code=codes[0])
    db.session.add(elsewhere)
    db.session.flush()
    assert elsewhere.id is not None


def test_leaving_is_possible_before_the_start_only(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    ana, ben = person(ctx), person(ctx)
    events.leave_event(joining.join(event, ana))
    db.session.commit()
    assert events.attendance_of(ana, event) is None

    ben_there = joining.join(event, ben)
    move(event, starts_in=timedelta(minutes=-5))
    with pytest.raises(ValidationFailed, match="started"):
        events.leave_event(ben_there)
    assert events.attendance_of(ben, event) is not None


@pytest.mark.parametrize("how", ["link-off", "cancelled", "over"])
def test_the_join_link_is_refused_when_off_cancelled_or_over(ctx, how):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    if how == "link-off":
        events.set_join_enabled(event, False)
    elif how == "cancelled":
        events.cancel_event(event)
    else:
        move(event, starts_in=timedelta(hours=-4))
    ana = person(ctx, "ana@example.com")

    with pytest.raises(events.EventClosed):
        joining.join(event, ana)
    with pytest.raises(events.EventClosed):
        joining.request_join_link(event, "ana@example.com", "Ana", f"/join/{event.join_code}")
    assert events.attendance_of(ana, event) is None
    assert mails("signin_link") == []


def test_joining_while_the_event_runs_is_fine(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    move(event, starts_in=timedelta(hours=-1))
    assert joining.join(event, person(ctx)).id is not None


def test_a_new_join_link_replaces_the_old_one(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    old = event.join_code
    events.set_join_enabled(event, False)
    events.reset_join_code(event)
    assert event.join_code != old and event.join_enabled
    assert events.by_join_code(event.join_code) == event
    with pytest.raises(DomainError):
        events.by_join_code(old)


def test_asking_to_join_by_email_makes_a_passwordless_account_only_for_a_new_address(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    known = make_user(ctx, "known@example.com", name="Kim Known")  # with a password
    next_path = f"/join/{event.join_code}"

    joining.request_join_link(event, "new@example.com", "Nia New", next_path)
    joining.request_join_link(event, "known@example.com", "Somebody Else", next_path)
    db.session.commit()

    newcomer = accounts.find_by_email("new@example.com")
    assert (newcomer.name, newcomer.password_hash, newcomer.email_verified) == ("Nia New", None, False)
    assert known.name == "Kim Known" and known.password_hash is not None
    sent = mails("signin_link")
    assert [m.recipient for m in sent] == ["new@example.com", "known@example.com"]
    assert sent[0].subject == sent[1].subject
    for message in sent:
        token = link_in(message, "/login/link/").rsplit("/", 1)[1]
        _, back_to = accounts.signin_with_link(accounts.SIGNIN, token)
        assert back_to == next_path
        db.session.rollback()


# --- Invitations ----------------------------------------------------------------------


def invite(ctx, event, inviter, email="ivy@example.com", name="Ivy Invited") -> str:
    joining.invite(event, inviter, email, name)
    db.session.commit()
    return link_in(mails("event_invitation", to=email)[-1], "/invite/").rsplit("/", 1)[1]


def test_an_invitation_signs_in_and_joins_once(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    token = invite(ctx, event, owner)

    seen = joining.read_invitation(token)
    ivy = accounts.find_by_email("ivy@example.com")
    assert (seen.event, seen.user) == (event, ivy)
    assert events.attendance_of(ivy, event) is None  # reading it changes nothing

    accepted, attendance = joining.accept_invitation(token)
    db.session.commit()
    assert accepted.user == ivy and ivy.email_verified
    assert (attendance.user, attendance.registered_via) == (ivy, "invite")
    assert attendance.invited_at is not None
    with pytest.raises(tokens.LinkUsed):
        joining.accept_invitation(token)


def test_an_invitation_works_with_the_join_link_off(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    events.set_join_enabled(event, False)
    _, attendance = joining.accept_invitation(invite(ctx, event, owner))
    assert attendance.event == event


def test_an_invitation_is_valid_until_the_event_ends_and_refused_after(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    token = invite(ctx, event, owner)

    move(event, starts_in=timedelta(hours=-2), hours=3)  # under way: still fine
    assert joining.read_invitation(token).event == event
    move(event, starts_in=timedelta(hours=-4), hours=3)  # ended an hour ago
    with pytest.raises(tokens.LinkExpired):
        joining.read_invitation(token)
    with pytest.raises(tokens.LinkExpired):
        joining.accept_invitation(token)
    assert events.attendance_of(accounts.find_by_email("ivy@example.com"), event) is None


def test_an_invitation_is_refused_for_a_cancelled_event(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    token = invite(ctx, event, owner)
    events.cancel_event(event)
    db.session.commit()
    with pytest.raises(tokens.LinkError, match="cancelled"):
        joining.read_invitation(token)
    with pytest.raises(events.EventClosed):
        joining.invite(event, owner, "late@example.com", "Late")


def test_an_invitation_is_single_purpose_and_voided_by_signing_out_everywhere(ctx):
    owner = organizer(ctx)
    event = make_event(ctx, owner, "Spring Mixer")
    token = invite(ctx, event, owner)
    with pytest.raises(tokens.LinkError):
        accounts.signin_with_link(accounts.SIGNIN, token)
    accounts.sign_out_everywhere(accounts.find_by_email("ivy@example.com"))
    with pytest.raises(tokens.LinkError):
        joining.read_invitation(token)


# --- Who's here -----------------------------------------------------------------------


def test_whos_here_lists_only_people_who_opted_in_and_never_across_a_block(ctx):
    event = make_event(ctx, organizer(ctx), "Spring Mixer")
    ana, ben, cat, dan = (person(ctx, name=name) for name in ("Ana", "Ben", "Cat", "Dan"))
    joining.join(event, ana, listed=True)
    joining.join(event, ben)
    events.set_listed(joining.join(event, cat), True)
    events.set_listed(joining.join(event, dan), True)
    db.session.add(Block(blocker_id=dan.id, blocked_id=ana.id))
    db.session.commit()

    assert events.listed_attendees(event) == [ana, cat, dan]
    assert events.listed_attendees(event, ana) == [ana, cat]
    assert events.listed_attendees(event, dan) == [cat, dan]

    events.set_listed(events.attendance_of(cat, event), False)
    assert events.listed_attendees(event, ben) == [ana, dan]


# --- When the follow-up goes out --------------------------------------------------------


def test_the_follow_up_defaults_to_nine_the_morning_after_in_the_events_zone(ctx):
    event = events.create_event(organizer(ctx), "Mixer", datetime(2026, 3, 7, 18), datetime(2026, 3, 7, 22), NY)
    # The morning after is past the DST change: 09:00 EDT.
    assert events.followup_due_at(event) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)

    # The day after in the event's zone, not in UTC: 23:30 in Los Angeles is already tomorrow in UTC.
    late = events.create_event(organizer(ctx, "l@example.com"), "Late", datetime(2026, 6, 5, 20),
                               datetime(2026, 6, 5, 23, 30), "America/Los_Angeles")
    assert events.followup_due_at(late) == datetime(2026, 6, 6, 16, 0, tzinfo=UTC)  # 09:00 PDT


def test_a_custom_follow_up_delay_counts_from_the_end(ctx):
    event = events.create_event(organizer(ctx), "Mixer", datetime(2026, 3, 7, 18), datetime(2026, 3, 7, 22), NY,
                                followup_delay_minutes=90)
    assert events.followup_due_at(event) == datetime(2026, 3, 8, 4, 30, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        events.update_event(event, name="Mixer", starts_at=event.starts_at, ends_at=event.ends_at, timezone=NY,
                            followup_delay_minutes=0)


# --- My events ------------------------------------------------------------------------


def test_my_events_shows_what_i_attend_and_organize_upcoming_first(ctx):
    me, other = organizer(ctx), organizer(ctx, "other@example.com")
    make_event(ctx, me, "Mine", days_from_now=20)
    attending = make_event(ctx, other, "Attending", days_from_now=3)
    past = make_event(ctx, other, "Past")
    helping = make_event(ctx, other, "Helping", days_from_now=10)
    make_event(ctx, other, "Not mine")
    joining.join(attending, me)
    joining.join(past, me)
    move(past, starts_in=timedelta(days=-3))
    events.add_co_organizer(helping, other, me.email)

    upcoming, done = events.my_events(me)
    assert [(m.event.name, m.organizing, m.attending) for m in upcoming] == [
        ("Attending", False, True), ("Helping", True, False), ("Mine", True, False)]
    assert [m.event.name for m in done] == ["Past"]


@pytest.mark.parametrize(("name", "message"), [
    ("Night\r\nBcc: victim@example.com", "single line"), ("Night\nTwo", "single line"), ("Night\x00", None),
    ("N" * 161, "under 160"),
])
def test_an_event_name_must_be_one_storable_line_that_fits(ctx, name, message):
    owner = db.session.get(User, make_user(ctx, role="organizer").id)
    start = utcnow() + timedelta(days=3)
    with pytest.raises(ValidationFailed) as refused:
        events.create_event(owner, name, start, start + timedelta(hours=2), "UTC")
    assert refused.value.field == "name" and (message is None or message in refused.value.message)
    assert events.create_event(owner, "N" * 160, start, start + timedelta(hours=2), "UTC").name == "N" * 160

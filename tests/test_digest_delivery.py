"""The digest goes out once however often and however concurrently
``send-due`` runs (SQLite and PostgreSQL), survives a worker dying before its
commit, and arrives over real SMTP with links that work when followed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import BASE_URL, at_once
from tests.factories import make_user, reload
from tests.test_digest import add_contact, csrf_token, digest_rows
from webapp.extensions import db
from webapp.models import Contact, Interaction, utcnow
from webapp.services import digest, schedule


def zone_at_noon(now: datetime) -> tuple[str, int]:
    """A time zone where it is about noon at ``now``, and its weekday then:
    a digest slot that is open whenever the test runs."""
    offset = 12 - now.hour  # -11 to +12 hours
    return ("Etc/GMT" + (f"{-offset:+d}" if offset else "")), (now + timedelta(hours=offset)).weekday()


@pytest.fixture
def due_now(app):
    """Ann's digest is due now; Bob is overdue (last in touch 40 days ago, monthly)."""
    zone, weekday = zone_at_noon(utcnow())
    with app.app_context():
        ann = make_user(app, "ann@example.com", name="Ann Archer", timezone=zone)
        ann.digest_weekday = weekday
        bob = make_user(app, "bob@example.com", name="Bob Baker", headline="Designer")
        contact = add_contact(app, ann, bob, touched=utcnow() - timedelta(days=40))
        assert digest.is_due_day(ann, utcnow())
        return {"ann": ann.id, "bob": bob.id, "contact": contact.id}


def digests_delivered(outbox) -> list:
    return [m for m in outbox.messages if "to get back in touch with" in m["Subject"]]


def test_send_due_twice_sends_one_digest(app, runner, outbox, due_now):
    for _ in range(2):
        result = runner.invoke(args=["send-due"])
        assert result.exit_code == 0, result.output
    assert "digests_queued=0" in result.output  # the second run found it recorded
    with app.app_context():
        assert len(digest_rows()) == 1
    assert [m["To"] for m in digests_delivered(outbox)] == ["ann@example.com"]


def test_two_workers_at_once_send_one_digest(app, outbox, due_now):
    counts = [report["digests_queued"] for report in at_once(app, schedule.run_due)]

    assert sorted(counts) == [0, 1]
    with app.app_context():
        assert len(digest_rows()) == 1
    assert [m["To"] for m in digests_delivered(outbox)] == ["ann@example.com"]


def test_a_worker_that_dies_before_its_commit_drops_nothing(app, outbox, due_now):
    with app.app_context():
        assert digest.queue_due(utcnow()) == 1
        db.session.rollback()  # the process died here
    with app.app_context():
        assert digest_rows() == []
        assert schedule.run_due()["digests_queued"] == 1
    assert len(digests_delivered(outbox)) == 1


def test_a_digest_arrives_over_smtp_and_its_links_work(app, client, csrf, smtp, due_now):
    with app.app_context():
        report = schedule.run_due()
    assert report["digests_queued"] == 1 and report["sent"] == 1

    (message,) = smtp.to("ann@example.com")
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]) == "1 person to get back in touch with"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto:" in message["List-Unsubscribe"] and f"<{BASE_URL}/unsubscribe/" in message["List-Unsubscribe"]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Why now: They're now Designer — ask how it's going." in text
    links = dict(re.findall(r"^\s+(Done, I got in touch|Snooze a week|Log a touch): (\S+)$", text, flags=re.M))
    assert len(links) == 3 and all(url.startswith(f"{BASE_URL}/touch/") for url in links.values())

    def reminder() -> datetime:
        return reload(app, Contact, due_now["contact"]).next_reminder_at

    overdue = reminder()
    done = links["Done, I got in touch"].removeprefix(BASE_URL)
    page = client.get(done)  # opening the link (or a mail scanner prefetching it) changes nothing
    assert page.status_code == 200 and "Got in touch with Bob Baker?" in page.get_data(as_text=True)
    assert reminder() == overdue
    assert client.post(done).status_code == 403  # no CSRF token: refused
    assert reminder() == overdue
    response = client.post(done, data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200 and "reminder clock starts again" in response.get_data(as_text=True)
    after_done = reminder()
    assert after_done > utcnow() + timedelta(days=29)  # monthly, from today's touch
    assert client.post(done, data={"csrf_token": csrf_token(page)}).status_code == 400  # once only

    snooze = links["Snooze a week"].removeprefix(BASE_URL)
    client.post(snooze, data={"csrf_token": csrf_token(client.get(snooze))})
    assert timedelta(days=6) < reminder() - utcnow() <= timedelta(days=7)

    log = links["Log a touch"].removeprefix(BASE_URL)
    page = client.get(log)
    assert 'name="kind"' in page.get_data(as_text=True) and "Referred a client" in page.get_data(as_text=True)
    response = client.post(log, data={"csrf_token": csrf_token(page), "kind": "referral",
                                      "note": "Sent them the Acme lead"})
    assert response.status_code == 200
    assert reminder() > utcnow() + timedelta(days=29)
    with app.app_context():
        kinds = [(i.kind, i.note) for i in db.session.scalars(
            select(Interaction).where(Interaction.contact_id == due_now["contact"]).order_by(Interaction.id))]
    assert kinds == [("other", ""), ("referral", "Sent them the Acme lead")]

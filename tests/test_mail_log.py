"""The site admin's mail log: every message with its status, each shown as rendered."""

from __future__ import annotations

import itertools
import re
from urllib.parse import urlparse

import pytest

from tests.factories import make_user
from webapp.extensions import db
from webapp.models import OutboxMessage, utcnow

_keys = itertools.count(1)


def add_message(app, recipient: str, subject: str = "Your sign-in link", status: str = "sent", **values) -> int:
    with app.app_context():
        row = OutboxMessage(
            dedupe_key=f"log:{next(_keys)}", kind=values.pop("kind", "signin_link"), recipient=recipient,
            subject=subject, text_body=values.pop("text_body", f"Hello {recipient}\n"),
            html_body=values.pop("html_body", f"<p>Hello {recipient}</p>"), status=status,
            sent_at=utcnow() if status == "sent" else None, **values,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def sign_in_as(app, auth, role: str) -> None:
    auth.as_user(make_user(app, role=role, password=None))


def recipients_listed(page: str) -> list[str]:
    return re.findall(r"<td>([^<@]+@example\.com)</td>", page)


PAGES = ["/admin", "/admin/mail", "/admin/mail/{id}", "/admin/mail/{id}/body.html"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 302), ("attendee", 403), ("organizer", 403), ("admin", 200)],
)
def test_only_site_admins_see_the_mail_log(app, client, auth, page, role, status):
    row_id = add_message(app, "secret.recipient@example.com", subject="Private subject line")
    if role:
        sign_in_as(app, auth, role)

    response = client.get(page.format(id=row_id))

    assert response.status_code == status
    if role is None:
        assert urlparse(response.location).path == "/login"
    if status != 200:
        body = response.get_data(as_text=True)
        assert "secret.recipient@example.com" not in body and "Private subject line" not in body


def test_the_log_lists_messages_newest_first_with_their_status(app, client, auth):
    add_message(app, "alice@example.com", status="sent")
    add_message(app, "bob@example.com", "Confirm your email", status="failed", attempts=1, last_error="550")
    add_message(app, "carol@example.com", "Welcome to the Lisbon Mixer", status="pending", attempts=2)
    sign_in_as(app, auth, "admin")

    page = client.get("/admin/mail").get_data(as_text=True)

    assert recipients_listed(page) == ["carol@example.com", "bob@example.com", "alice@example.com"]
    for status in ("sent", "failed", "pending"):
        assert f'<span class="status status-{status}">{status}</span>' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", ["bob@example.com"]),
        ("status=pending", ["carol@example.com"]),
        ("q=ALICE", ["alice@example.com"]),
        ("q=lisbon", ["carol@example.com"]),  # subjects are searched too
        ("q=ann_lee", ["ann_lee@example.com"]),  # "_" is a character, not a wildcard
        ("q=%25", []),
        ("status=sent&q=bob", []),
        ("status=bogus", ["carol@example.com", "annxlee@example.com", "ann_lee@example.com",
                          "bob@example.com", "alice@example.com"]),
    ],
)
def test_the_log_filters_by_status_and_searches_recipient_and_subject(app, client, auth, query, expected):
    add_message(app, "alice@example.com", status="sent")
    add_message(app, "bob@example.com", "Confirm your email", status="failed")
    add_message(app, "ann_lee@example.com", status="sent")
    add_message(app, "annxlee@example.com", status="sent")
    add_message(app, "carol@example.com", "Welcome to the Lisbon Mixer", status="pending")
    sign_in_as(app, auth, "admin")

    page = client.get(f"/admin/mail?{query}").get_data(as_text=True)

    assert recipients_listed(page) == expected
    if not expected:
        assert "No messages match this filter." in page


def test_the_log_pages_through_older_messages(app, client, auth):
    for n in range(53):
        add_message(app, f"guest{n:02d}@example.com")
    sign_in_as(app, auth, "admin")

    first = client.get("/admin/mail").get_data(as_text=True)
    second = client.get("/admin/mail?page=2").get_data(as_text=True)

    assert len(recipients_listed(first)) == 50
    assert recipients_listed(second) == ["guest02@example.com", "guest01@example.com", "guest00@example.com"]
    assert "Older →" in first and "Older →" not in second


def test_a_message_page_shows_the_details_and_both_versions(app, client, auth):
    row_id = add_message(
        app, "bob@example.com", "<script>alert(1)</script> Confirm", status="pending", attempts=2,
        last_error="SMTPRecipientsRefused: 450 4.2.1 Mailbox busy", text_body="Plain text body\n",
    )
    sign_in_as(app, auth, "admin")

    page = client.get(f"/admin/mail/{row_id}").get_data(as_text=True)

    assert "&lt;script&gt;alert(1)&lt;/script&gt; Confirm" in page
    assert "<script>alert(1)</script>" not in page
    for fact in ("bob@example.com", "pending", "450 4.2.1 Mailbox busy", "Plain text body"):
        assert fact in page
    frame = re.search(r"<iframe[^>]*>", page).group(0)
    assert "sandbox" in frame and f'src="/admin/mail/{row_id}/body.html"' in frame


def test_the_html_version_is_served_with_a_restrictive_content_security_policy(app, client, auth):
    html = '<p style="color:red">Hi</p><script>alert(1)</script>'
    row_id = add_message(app, "bob@example.com", html_body=html)
    sign_in_as(app, auth, "admin")

    response = client.get(f"/admin/mail/{row_id}/body.html")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.get_data(as_text=True) == html
    directives = {
        name: value for name, _, value in (d.strip().partition(" ") for d in
                                           response.headers["Content-Security-Policy"].split(";"))
    }
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives  # so scripts fall back to 'none'
    assert "sandbox" in directives
    assert directives["frame-ancestors"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_message_is_not_found(app, client, auth):
    sign_in_as(app, auth, "admin")
    assert client.get("/admin/mail/999999").status_code == 404
    assert client.get("/admin/mail/999999/body.html").status_code == 404


def test_the_admin_home_counts_messages_by_status(app, client, auth):
    add_message(app, "a@example.com", status="sent")
    add_message(app, "b@example.com", status="sent")
    add_message(app, "c@example.com", status="failed")
    sign_in_as(app, auth, "admin")

    page = client.get("/admin").get_data(as_text=True)

    assert ">2 sent</a>" in page and ">1 failed</a>" in page and ">0 pending</a>" in page


SECRET_LINK = "http://meetloop.test/login/link/SECRET-TOKEN-123"


@pytest.mark.parametrize(("transport", "token_shown"), [("file", True), ("smtp", False)])
def test_single_use_links_are_hidden_from_admins_once_mail_really_goes_out(app, client, auth, transport, token_shown):
    row_id = add_message(app, "bob@example.com", text_body=f"Sign in: {SECRET_LINK}\n",
                         html_body=f'<a href="{SECRET_LINK}">Sign in</a>')
    sign_in_as(app, auth, "admin")
    app.config["MAIL_TRANSPORT"] = transport

    page = client.get(f"/admin/mail/{row_id}").get_data(as_text=True)
    html = client.get(f"/admin/mail/{row_id}/body.html").get_data(as_text=True)

    assert ("SECRET-TOKEN-123" in page) is token_shown
    assert ("SECRET-TOKEN-123" in html) is token_shown
    assert "/login/link/" in page and "Sign in" in html

"""Email preferences and one-click unsubscribe (RFC 8058): the HTTPS link works
as a bare POST from a mail client (no session, no CSRF token), GET only asks,
the mailto names an address and the token, the preferences page turns each
kind on or off on its own, and a real recap carries all of it."""

from __future__ import annotations

import mailbox
import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import BASE_URL, EVENT_ROLES
from tests.factories import make_user, reload
from tests.test_recaps import make_past_event, meet, recap_rows
from webapp.extensions import db
from webapp.models import Event, User
from webapp.services import events, followups, recaps, schedule, tokens, unsubscribe

ACCESS_TABLE_RULES = {"/unsubscribe/<token>", "/settings/email"}
FLAGS = {"recaps": "email_recaps", "nudges": "email_nudges", "digests": "email_digests"}


@pytest.fixture
def met(app):
    """A past event whose recap is due: Ann met Bob. Returns the ids."""
    organizer = make_user(app, "org@example.com", role="organizer")
    ann = make_user(app, "ann@example.com", name="Ann Archer")
    bob = make_user(app, "bob@example.com", name="Bob Baker")
    with app.app_context():
        event = make_past_event(organizer.id)
        users = [db.session.get(User, u.id) for u in (ann, bob)]
        for user in users:
            events.add_attendee(event, user)
        meet(event, users[0], users[1], 10)
        db.session.commit()
        return {"event": event.id, "ann": ann.id, "bob": bob.id}


def link_path(app, user_id: int, kind: str = "recaps") -> str:
    with app.app_context():
        return unsubscribe.link(db.session.get(User, user_id), kind).removeprefix(BASE_URL)


def flags(app, user_id: int) -> dict[str, bool]:
    user = reload(app, User, user_id)
    return {kind: getattr(user, flag) for kind, flag in FLAGS.items()}


def test_one_click_post_without_session_or_csrf_turns_recaps_off_and_no_recap_follows(app, client, csrf, met):
    path = link_path(app, met["ann"])
    assert path.startswith("/unsubscribe/")

    response = client.post(path, data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200 and "unsubscribed" in response.get_data(as_text=True)
    assert flags(app, met["ann"]) == {"recaps": False, "nudges": True, "digests": True}
    with app.app_context():
        report = schedule.run_due()
        assert [r.recipient for r in recap_rows()] == ["bob@example.com"]
        assert recaps.recipients(db.session.get(Event, met["event"])) == [db.session.get(User, met["bob"])]
    assert report["recaps_queued"] == 1 and report["sent"] == 1


def test_the_link_is_reusable_and_all_stops_every_kind(app, client, met):
    path = link_path(app, met["ann"], "all")
    assert client.post(path).status_code == 200
    assert client.post(path).status_code == 200  # a mail client may retry: still fine
    assert flags(app, met["ann"]) == {"recaps": False, "nudges": False, "digests": False}
    assert flags(app, met["bob"]) == {"recaps": True, "nudges": True, "digests": True}


def test_get_shows_what_will_stop_and_changes_nothing(app, client, csrf, met):
    path = link_path(app, met["ann"], "nudges")

    page = client.get(path)

    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "follow-up nudges" in body and "ann@example.com" in body
    assert '<button type="submit">Unsubscribe</button>' in body
    assert flags(app, met["ann"]) == {"recaps": True, "nudges": True, "digests": True}
    # The page's button posts back to the same URL.
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    assert client.post(path, data={"csrf_token": token}).status_code == 200
    assert flags(app, met["ann"]) == {"recaps": True, "nudges": False, "digests": True}


@pytest.mark.parametrize("tamper", ["flip", "truncate", "other_purpose", "garbage"])
def test_a_tampered_link_is_a_clear_page_and_changes_nothing(app, client, met, tamper):
    path = link_path(app, met["ann"])
    token = path.removeprefix("/unsubscribe/")
    if tamper == "flip":
        token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    elif tamper == "truncate":
        token = token[: len(token) // 2]
    elif tamper == "other_purpose":  # a validly signed link made for something else
        with app.app_context():
            token = tokens.make(followups.PURPOSE, u=met["ann"], k="recaps")
    else:
        token = "not-a-real-token"

    for method in (client.get, client.post):
        response = method(f"/unsubscribe/{token}")
        assert response.status_code == 400 and "doesn't work" in response.get_data(as_text=True)
    assert flags(app, met["ann"]) == {"recaps": True, "nudges": True, "digests": True}


def test_headers_name_an_https_link_and_a_mailto_with_address_and_token(ctx):
    ctx.config["BASE_URL"] = "https://meetloop.example"
    ctx.config["MAIL_DEFAULT_SENDER"] = "MeetLoop <hello@meetloop.example>"
    user = make_user(ctx, "ann@example.com")

    headers = unsubscribe.headers(user, "digests")

    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = re.fullmatch(r"<(https://meetloop\.example/unsubscribe/([^>]+))>, "
                         r"<mailto:hello@meetloop\.example\?subject=unsubscribe-([^>]+)>", headers["List-Unsubscribe"])
    assert match, headers["List-Unsubscribe"]
    _, https_token, mailto_token = match.groups()
    # The mailto's token is as good as the link's: whoever reads that mailbox applies it.
    assert unsubscribe.apply(mailto_token) == (user, "digests")
    assert (user.email_recaps, user.email_nudges, user.email_digests) == (True, True, False)
    assert unsubscribe.preview(https_token) == (user, "digests")
    with pytest.raises(ValueError):
        unsubscribe.link(user, "everything")


def test_preferences_turn_each_kind_on_or_off_separately(ctx):
    user = make_user(ctx)
    for kind in FLAGS:
        unsubscribe.set_preferences(user, **{k: k != kind for k in FLAGS})
        assert {k: getattr(user, f) for k, f in FLAGS.items()} == {k: k != kind for k in FLAGS}
    unsubscribe.set_preferences(user, True, True, True)
    assert (user.email_recaps, user.email_nudges, user.email_digests) == (True, True, True)


@pytest.mark.parametrize("kind", list(FLAGS))
def test_the_preferences_page_toggles_one_kind_with_csrf(app, client, auth, csrf, kind):
    user = make_user(app)
    auth.as_user(user)
    page = client.get("/settings/email")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    others = {k: "y" for k in FLAGS if k != kind}

    assert client.post("/settings/email", data={**others}).status_code == 403  # no CSRF token: refused
    assert flags(app, user.id) == dict.fromkeys(FLAGS, True)

    saved = client.post("/settings/email", data={"csrf_token": token, **others})
    assert saved.status_code == 302 and urlsplit(saved.headers["Location"]).path == "/settings/email"
    assert flags(app, user.id) == {k: k != kind for k in FLAGS}

    client.post("/settings/email", data={"csrf_token": token, **dict.fromkeys(FLAGS, "y")})
    assert flags(app, user.id) == dict.fromkeys(FLAGS, True)


def test_the_profile_links_to_email_preferences(client, auth, app):
    auth.as_user(make_user(app))
    assert 'href="/settings/email"' in client.get("/profile").get_data(as_text=True)


def test_a_recap_over_smtp_carries_the_headers_and_its_link_unsubscribes(app, client, smtp, met):
    with app.app_context():
        schedule.run_due()

    (message,) = smtp.to("ann@example.com")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    value = str(message["List-Unsubscribe"])
    https = re.search(r"<(" + re.escape(BASE_URL) + r"/unsubscribe/[^>]+)>", value).group(1)
    assert re.search(r"<mailto:no-reply@meetloop\.local\?subject=unsubscribe-[^>]+>", value)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    footer_link = re.search(r"Stop recap emails: (\S+)", text).group(1)
    assert footer_link.startswith(f"{BASE_URL}/unsubscribe/") and footer_link in html

    assert client.post(https.removeprefix(BASE_URL), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert flags(app, met["ann"]) == {"recaps": False, "nudges": True, "digests": True}
    with app.app_context():  # a recap composed now skips her
        recipients = [u.email for u in recaps.recipients(db.session.get(Event, met["event"]))]
        assert len(recipients) == 1 and "ann@example.com" not in recipients


def test_the_list_unsubscribe_header_goes_out_unencoded(app, smtp, met):
    with app.app_context():
        schedule.run_due()
    raw = next(r.raw for r in smtp.received if r.rcpt_tos == ["ann@example.com"]).decode()
    header = raw.split("List-Unsubscribe:", 1)[1].split("\r\n", 1)[0]
    assert header.strip().startswith(f"<{BASE_URL}/unsubscribe/") and "=?" not in header


def mail_client_request(list_unsubscribe: str) -> EmailMessage:
    """The message a mail client sends for the header's mailto (RFC 6068)."""
    mailto = urlsplit(re.search(r"<(mailto:[^>]+)>", list_unsubscribe).group(1))
    request = EmailMessage()
    request["From"] = "ann@example.com"
    request["To"] = mailto.path
    request["Subject"] = parse_qs(mailto.query)["subject"][0]
    request.set_content("This message will unsubscribe you.")
    return request


def test_the_mailto_request_unsubscribes_once_the_mailbox_is_read(app, smtp, met, tmp_path):
    """The mail server delivers mail for UNSUBSCRIBE_MAILTO into a Maildir; the
    next scheduled run applies each request and empties the Maildir, ignoring
    junk and forged tokens."""
    app.config.update(UNSUBSCRIBE_MAILTO="leave@meetloop.test", UNSUBSCRIBE_MAILDIR=str(tmp_path / "inbox"))
    with app.app_context():
        schedule.run_due()  # no Maildir yet: the run goes on, nothing read
    (message,) = smtp.to("ann@example.com")
    request = mail_client_request(str(message["List-Unsubscribe"]))
    assert request["To"] == "leave@meetloop.test"

    inbox = mailbox.Maildir(tmp_path / "inbox", create=True)
    reply = EmailMessage()
    reply["Subject"] = "=?utf-8?q?Re=3A_?= " + str(request["Subject"])  # encoded, behind "Re:"
    reply.set_content("again")
    junk = EmailMessage()
    junk["Subject"] = "unsubscribe-forged.token.here"
    junk.set_content("?")
    for item in (request, reply, junk, b"\xff\xfe not an email at all"):
        inbox.add(item)

    with app.app_context():
        report = schedule.run_due()

    assert report["unsubscribed_by_mail"] == 2
    assert flags(app, met["ann"]) == {"recaps": False, "nudges": True, "digests": True}
    assert flags(app, met["bob"]) == {"recaps": True, "nudges": True, "digests": True}
    assert list(inbox.keys()) == []


# --- Who may open these pages -------------------------------------------------------------


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_email_settings_are_for_signed_in_people(client, world, role):
    world.sign_in(role)
    response = client.get("/settings/email")
    if role == "anonymous":
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    else:
        assert response.status_code == 200 and "Email preferences" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_an_unsubscribe_link_opens_for_anyone_and_changes_nothing_on_get(app, client, world, role):
    world.sign_in(role)
    assert client.get("/unsubscribe/not-a-real-token").status_code == 400
    response = client.get(link_path(app, world.attendee.id))
    assert response.status_code == 200 and "attendee@example.com" in response.get_data(as_text=True)
    assert reload(app, User, world.attendee.id).email_recaps is True

"""The digest day on the email preferences page: shown with the person's
time zone and when it goes out, saved with CSRF, bad input shown on the field."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests.factories import make_user, reload
from tests.test_digest import MONDAY, add_contact, csrf_token, run
from webapp.extensions import db
from webapp.models import User
from webapp.services import ValidationFailed, unsubscribe

ON = {"recaps": "y", "nudges": "y", "digests": "y"}


def test_the_page_shows_the_day_the_time_and_the_time_zone(app, client, auth):
    user = make_user(app, timezone="America/New_York")
    with app.app_context():
        unsubscribe.set_preferences(db.session.get(User, user.id), True, True, True, digest_weekday=4)
        db.session.commit()
    auth.as_user(user)
    body = client.get("/settings/email").get_data(as_text=True)
    assert '<label for="digest_weekday">Digest day</label>' in body
    assert '<option selected value="4">Friday</option>' in body
    assert len(re.findall(r"<option[^>]*>(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)<", body)) == 7
    assert "Sent at 09:00 your time (America/New York), only when someone is due, once you&#39;ve set a cadence" in body
    assert 'href="/profile/edit"' in body


def test_the_day_is_saved_with_csrf(app, client, auth, csrf):
    user = make_user(app)
    auth.as_user(user)
    token = csrf_token(client.get("/settings/email"))
    assert client.post("/settings/email", data={**ON, "digest_weekday": "2"}).status_code in (400, 403)
    assert reload(app, User, user.id).digest_weekday == 0

    saved = client.post("/settings/email", data={**ON, "digest_weekday": "2", "csrf_token": token})
    assert saved.status_code == 302 and urlsplit(saved.headers["Location"]).path == "/settings/email"
    assert reload(app, User, user.id).digest_weekday == 2
    # A form without the field (an old page left open) keeps the day.
    client.post("/settings/email", data={**ON, "csrf_token": token})
    assert reload(app, User, user.id).digest_weekday == 2


@pytest.mark.parametrize("bad", ["7", "-1", "Friday", ""])
def test_a_bad_day_is_shown_on_the_field_and_changes_nothing(app, client, auth, bad):
    user = make_user(app)
    auth.as_user(user)
    response = client.post("/settings/email", data={"digest_weekday": bad})  # switches off, if it were saved
    assert response.status_code == 422
    assert 'id="digest_weekday-error"' in response.get_data(as_text=True)
    saved = reload(app, User, user.id)
    assert (saved.digest_weekday, saved.email_recaps, saved.email_digests) == (0, True, True)


@pytest.mark.parametrize("bad", [7, -1, True, "3", 2.0])
def test_the_service_accepts_only_a_weekday_number(ctx, bad):
    user = make_user(ctx)
    with pytest.raises(ValidationFailed) as refused:
        unsubscribe.set_preferences(user, False, False, False, digest_weekday=bad)
    assert refused.value.field == "digest_weekday"
    assert (user.digest_weekday, user.email_recaps) == (0, True)


def test_changing_the_day_moves_the_digest(ctx):
    ann = make_user(ctx, timezone="Europe/Lisbon")
    add_contact(ctx, ann, name="Bob", touched=MONDAY - timedelta(days=40))
    unsubscribe.set_preferences(ann, True, True, True, digest_weekday=6)
    assert run(MONDAY) == 0
    assert run(MONDAY + timedelta(days=6)) == 1

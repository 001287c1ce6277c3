"""Site admin's users page: find accounts, change roles, disable and re-enable.

Rules (services.admin_users): nobody changes their own role or disables
themselves; the last active admin can't be demoted or disabled; disabling
ends every session and blocks signing in.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import PASSWORD, make_user, reload
from webapp.models import User
from webapp.services import admin_users

ACCESS_TABLE_RULES = {"/admin/users"}
LOGIN = "→ /login"
ROLES = ("anonymous", "attendee", "organizer", "admin")
USERS_PAGE = {"anonymous": LOGIN, "attendee": 403, "organizer": 403, "admin": 200}


def sign_in_admin(app, auth, email: str = "ada@example.com") -> User:
    admin = make_user(app, email, name="Ada Admin", role="admin", password=None)
    auth.as_user(admin)
    return admin


def flashes(client, response) -> str:
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_only_site_admins_open_the_users_page(app, client, auth, role):
    make_user(app, "private.person@example.com", name="Private Person", password=None)
    if role != "anonymous":
        auth.as_user(make_user(app, role=role, password=None))
    response = client.get("/admin/users")
    expected = USERS_PAGE[role]
    if expected == LOGIN:
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and parse_qs(location.query)["next"] == ["/admin/users"]
    else:
        assert response.status_code == expected
    assert ("private.person@example.com" in response.get_data(as_text=True)) is (expected == 200)


@pytest.mark.parametrize("role", ("anonymous", "attendee", "organizer"))
def test_only_site_admins_may_change_accounts(app, client, auth, role):
    target = make_user(app, "target@example.com", password=None)
    if role != "anonymous":
        auth.as_user(make_user(app, role=role, password=None))
    for action, data in (("role", {"role": "admin"}), ("disable", {})):
        response = client.post(f"/admin/users/{target.id}/{action}", data=data)
        if role == "anonymous":
            assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
        else:
            assert response.status_code == 403
    after = reload(app, User, target.id)
    assert (after.role, after.is_disabled) == ("attendee", False)


def listed_emails(body: str) -> list[str]:
    return re.findall(r"<td>([^<]+@example\.com)</td>", body)


def test_search_finds_people_by_name_or_email_in_any_case(app, client, auth):
    sign_in_admin(app, auth)
    make_user(app, "mira.h@example.com", name="Mira Holm", password=None)
    make_user(app, "jon@example.com", name="Jon Miravalle", role="organizer", password=None)
    make_user(app, "ola@example.com", name="Ola Nordmann", password=None)
    make_user(app, "p100@example.com", name="Percent 100%", password=None)

    assert listed_emails(client.get("/admin/users?q=MIRA").get_data(as_text=True)) == [
        "jon@example.com", "mira.h@example.com"]  # by name, sorted by name
    assert listed_emails(client.get("/admin/users?q=ola@").get_data(as_text=True)) == ["ola@example.com"]
    assert listed_emails(client.get("/admin/users?q=mira&role=organizer").get_data(as_text=True)) == [
        "jon@example.com"]
    # "%" is a character to find, not a wildcard.
    assert listed_emails(client.get("/admin/users?q=0%25").get_data(as_text=True)) == ["p100@example.com"]
    assert "No accounts match" in client.get("/admin/users?q=nobody-here").get_data(as_text=True)


def test_the_list_shows_role_and_status_and_pages_through_everyone(app, client, auth):
    sign_in_admin(app, auth)
    make_user(app, "off@example.com", name="Aaron Off", password=None, is_disabled=True)
    for n in range(admin_users.PER_PAGE):
        make_user(app, f"bulk{n:02d}@example.com", name=f"Bulk {n:02d}", password=None)
    first = client.get("/admin/users").get_data(as_text=True)
    row = re.search(r'<tr id="user-\d+">\s*<th scope="row">Aaron Off</th>.*?</tr>', first, re.S).group(0)
    assert 'value="attendee" selected' in row and ">disabled<" in row and ">Enable<" in row
    assert "Page 1 of 2" in first and len(listed_emails(first)) == admin_users.PER_PAGE
    second = client.get("/admin/users?page=2").get_data(as_text=True)
    assert len(listed_emails(second)) == 2  # 52 accounts: the admin, Aaron and 50 others


@pytest.mark.parametrize(("before", "after"), [
    ("attendee", "organizer"), ("organizer", "attendee"), ("attendee", "admin"), ("admin", "organizer"),
])
def test_an_admin_changes_someone_elses_role(app, client, auth, before, after):
    sign_in_admin(app, auth)
    person = make_user(app, "pat@example.com", name="Pat Person", role=before, password=None)
    page = flashes(client, client.post(f"/admin/users/{person.id}/role", data={"role": after}))
    assert f"Pat Person is now an {after}." in page
    assert reload(app, User, person.id).role == after


def test_nobody_changes_their_own_role(app, client, auth):
    admin = sign_in_admin(app, auth)
    make_user(app, "second.admin@example.com", role="admin", password=None)
    page = flashes(client, client.post(f"/admin/users/{admin.id}/role", data={"role": "organizer"}))
    assert "You can&#39;t change your own role" in page
    assert reload(app, User, admin.id).role == "admin"


def test_the_only_admin_is_told_to_make_another_admin_first(app, client, auth):
    admin = sign_in_admin(app, auth)
    for action, data in (("role", {"role": "attendee"}), ("disable", {})):
        page = flashes(client, client.post(f"/admin/users/{admin.id}/{action}", data=data))
        assert "Ada Admin is the only active admin" in page
    after = reload(app, User, admin.id)
    assert (after.role, after.is_disabled) == ("admin", False)


def test_the_last_active_admin_cant_be_demoted_or_disabled_by_anyone(app, ctx):
    only = make_user(app, "only@example.com", role="admin", password=None)
    make_user(app, "asleep@example.com", role="admin", password=None, is_disabled=True)  # doesn't count
    someone = make_user(app, "someone@example.com", role="organizer", password=None)
    with pytest.raises(admin_users.LastAdmin):
        admin_users.change_role(someone, only, "organizer")
    with pytest.raises(admin_users.LastAdmin):
        admin_users.disable(someone, only)
    assert (only.role, only.is_disabled) == ("admin", False)
    # With a second active admin, the same change is fine.
    make_user(app, "deputy@example.com", role="admin", password=None)
    admin_users.change_role(someone, only, "organizer")
    assert only.role == "organizer"


def test_disabling_ends_their_sessions_and_blocks_sign_in(app, client, auth):
    sign_in_admin(app, auth)
    person = make_user(app, "pat@example.com", name="Pat Person")
    theirs = app.test_client()
    assert theirs.post("/login", data={"email": "pat@example.com", "password": PASSWORD}).status_code == 302
    assert theirs.get("/profile").status_code == 200

    page = flashes(client, client.post(f"/admin/users/{person.id}/disable"))
    assert "Pat Person&#39;s account is disabled" in page
    assert urlsplit(theirs.get("/profile").headers["Location"]).path == "/login"
    refused = theirs.post("/login", data={"email": "pat@example.com", "password": PASSWORD})
    assert refused.status_code == 200 and "This account has been disabled" in refused.get_data(as_text=True)

    assert "Pat Person can sign in again." in flashes(client, client.post(f"/admin/users/{person.id}/enable"))
    # The old session stays ended; signing in works again.
    old = app.test_client()
    with old.session_transaction() as session:
        session["_user_id"], session["_fresh"] = f"{person.id}:{person.session_version}", True
    assert old.get("/profile").status_code == 302
    assert theirs.post("/login", data={"email": "pat@example.com", "password": PASSWORD}).status_code == 302
    assert theirs.get("/profile").status_code == 200


def test_nobody_disables_themselves(app, client, auth):
    admin = sign_in_admin(app, auth)
    make_user(app, "second.admin@example.com", role="admin", password=None)
    page = flashes(client, client.post(f"/admin/users/{admin.id}/disable"))
    assert "You can&#39;t disable your own account." in page
    assert reload(app, User, admin.id).is_disabled is False


def test_the_buttons_carry_the_csrf_token_and_posts_without_it_are_refused(app, client, auth, csrf):
    sign_in_admin(app, auth)
    person = make_user(app, "pat@example.com", name="Pat Person", password=None)
    assert client.post(f"/admin/users/{person.id}/role", data={"role": "organizer"}).status_code == 403
    assert client.post(f"/admin/users/{person.id}/disable").status_code == 403
    assert (reload(app, User, person.id).role, reload(app, User, person.id).is_disabled) == ("attendee", False)

    body = client.get("/admin/users?q=pat").get_data(as_text=True)
    role_form = re.search(rf'action="/admin/users/{person.id}/role".*?</form>', body, re.S).group(0)
    token = re.search(r'name="csrf_token" value="([^"]+)"', role_form).group(1)
    back = re.search(r'name="next" value="([^"]+)"', role_form).group(1)
    response = client.post(f"/admin/users/{person.id}/role", data={"role": "organizer", "csrf_token": token,
                                                                   "next": back})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users?q=pat"
    assert reload(app, User, person.id).role == "organizer"


def test_after_a_change_the_admin_goes_back_to_the_list_never_elsewhere(app, client, auth):
    sign_in_admin(app, auth)
    person = make_user(app, "pat@example.com", password=None)
    response = client.post(f"/admin/users/{person.id}/role", data={"role": "organizer",
                                                                   "next": "https://evil.example/admin/users"})
    assert response.headers["Location"] == "/admin/users"
    assert client.post("/admin/users/999999/disable").status_code == 404


def test_the_admin_home_links_to_the_users_page(app, client, auth):
    sign_in_admin(app, auth)
    assert 'href="/admin/users"' in client.get("/admin").get_data(as_text=True)

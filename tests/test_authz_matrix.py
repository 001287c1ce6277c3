"""Who may do what: every rule of the URL map, with every method it answers,
requested by each of EVENT_ROLES, against a hand-written table of answers.

The table says what the product allows, not what the code happens to do:
organizer pages are 404 to everyone outside the event, someone's address
book is theirs alone (site admins included), admin pages are 403 to
non-admins, signed-in pages send anonymous visitors to /login, and emailed
links work for whoever holds them (acting for the person they were sent to,
never for whoever is signed in). A rule missing from the table, or a row
whose rule is gone, fails ``test_the_table_covers_every_rule_and_method``.

Each role gets its own world and walks every row in order, with CSRF on and
a valid token on every write: reads first, then writes, then what a write
takes away (leaving, blocking, cancelling, signing out, deleting). Before
each row the client is signed in afresh as the role (a link row may have
signed it in as someone else). Where an answer is 200 for someone who must
not see private data, the body is checked for it.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import EVENT_ROLES, csrf_token_of
from tests.factories import PASSWORD, make_user
from webapp.extensions import db
from webapp.models import (
    ApiToken,
    Attendance,
    Contact,
    ContactImport,
    Event,
    EventOrganizer,
    Interaction,
    OutboxMessage,
    User,
    utcnow,
)
from webapp.services import (
    accounts,
    api_tokens,
    cadences,
    connections,
    contact_import,
    contacts,
    followups,
    joining,
    profiles,
    registrant_import,
    tags,
    tokens,
    touch_links,
    unsubscribe,
)

LOGIN = "login"  # redirected to /login?next=<this URL>
SIGNED_IN_ROLES = EVENT_ROLES[1:]

# What nobody but the attendee may ever see (site admins included).
PRIVATE_NOTE = "PRIVATE-NOTE-4711 owes me a call"
OFFLINE_EMAIL = "nora.offline@example.com"
OFFLINE_PHONE = "+351 912 000 111"
TAG_NAME = "zebra-club"
TOKEN_NAME = "secret-phone-token-name"
EVENT_NOTE = "PRIVATE-NOTE-0815 about the organizer"
# The attendee shares neither: people outside the event must never see them.
UNSHARED_EMAIL = "attendee@example.com"
UNSHARED_PHONE = "+351 933 444 555"
CSV = b"name,email\nIvy Import,ivy@example.com\nBroken,not-an-email\n"


# --- Expected answers ------------------------------------------------------------------------


def table(anonymous=LOGIN, attendee=404, other_attendee=404, other_organizer=404, organizer=404, admin=404):
    return {"anonymous": anonymous, "attendee": attendee, "other_attendee": other_attendee,
            "other_organizer": other_organizer, "organizer": organizer, "admin": admin}


def everyone(expected):
    return dict.fromkeys(EVENT_ROLES, expected)


def signed_in(expected, anonymous=LOGIN):
    return {"anonymous": anonymous, **dict.fromkeys(SIGNED_IN_ROLES, expected)}


def owner_only(expected, anonymous=LOGIN):
    """The attendee's own things (contacts, tags, tokens, imports, badge)."""
    return table(anonymous=anonymous, attendee=expected)


def organizers(expected, anonymous=LOGIN):
    """The event's organizer pages: 404 to everyone outside the event."""
    return table(anonymous=anonymous, organizer=expected, admin=expected)


def admins(expected):
    return {**signed_in(403), "admin": expected}


def event_creators(expected):
    return {**signed_in(403), "other_organizer": expected, "organizer": expected, "admin": expected}


def api(expected_by_role):
    """An API row: anonymous callers get the JSON 401."""
    return {**expected_by_role, "anonymous": 401}


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    url: str  # a template over the scene's values
    expected: dict
    data: object = None  # form fields, "json:..." for a JSON body, or a callable(scene) -> form
    link: bool = False  # an emailed link: whoever holds it is taken for its addressee
    echo: bool = False  # the request itself names the attendee's address

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.rule


def event_form(_scene) -> dict:
    start = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    end = (utcnow() + timedelta(days=10, hours=3)).strftime("%Y-%m-%dT%H:%M")
    return {"name": "Spring Mixer", "timezone": "Europe/Lisbon", "venue": "", "description": "",
            "followup_delay_minutes": "", "starts_at": start, "ends_at": end}


def photo_form(_scene) -> dict:
    return {"photo": (io.BytesIO(tiny_png()), "me.png")}


def upload(name: str, data: bytes = CSV) -> Callable:
    return lambda _scene: {"file": (io.BytesIO(data), name)}


NEW_PASSWORD = {"password": "a brand new passphrase", "confirm": "a brand new passphrase"}

# In the order each role walks them. "→ /x" is a redirect to /x; "→ /x…" to anything under it.
ROWS = [
    # --- reads ---------------------------------------------------------------------------------
    Row("GET", "/", "/", everyone(200)),
    Row("GET", "/healthz", "/healthz", everyone(200)),
    Row("GET", "/manifest.webmanifest", "/manifest.webmanifest", everyone(200)),
    Row("GET", "/sw.js", "/sw.js", everyone(200)),
    Row("GET", "/login", "/login", signed_in("→ /", anonymous=200)),
    Row("GET", "/signup", "/signup", everyone(200)),
    Row("GET", "/login/link", "/login/link", everyone(200)),
    Row("GET", "/reset", "/reset", everyone(200)),
    Row("GET", "/login/link/<token>", "/login/link/{signin_token}", everyone(200), link=True),
    Row("GET", "/verify/<token>", "/verify/{verify_token}", everyone(200), link=True),
    Row("GET", "/reset/<token>", "/reset/{reset_token}", everyone(200), link=True),
    Row("GET", "/account/email/<token>", "/account/email/{change_token}", everyone(200), link=True),
    Row("GET", "/account", "/account", signed_in(200)),
    Row("GET", "/account/delete", "/account/delete", signed_in(200)),
    Row("GET", "/profile", "/profile", signed_in(200)),
    Row("GET", "/profile/edit", "/profile/edit", signed_in(200)),
    # Yourself, site admins and people you met or share an event with.
    Row("GET", "/profile/<int:user_id>/photo.jpg", "/profile/{attendee_id}/photo.jpg",
        table(attendee=200, organizer=200, admin=200)),
    Row("GET", "/settings/tokens", "/settings/tokens", signed_in(200)),
    Row("GET", "/settings/email", "/settings/email", signed_in(200)),
    Row("GET", "/admin", "/admin", admins(200)),
    Row("GET", "/admin/mail", "/admin/mail", admins(200)),
    Row("GET", "/admin/mail/<int:message_id>", "/admin/mail/{message}", admins(200)),
    Row("GET", "/admin/mail/<int:message_id>/body.html", "/admin/mail/{message}/body.html", admins(200)),
    Row("GET", "/admin/users", "/admin/users", admins(200)),
    Row("GET", "/admin/audit", "/admin/audit", admins(200)),
    Row("GET", "/admin/health", "/admin/health", admins(200)),
    Row("GET", "/events", "/events", signed_in(200)),
    Row("GET", "/events/new", "/events/new", event_creators(200)),
    Row("GET", "/events/<ref>", "/events/{slug}", table(attendee=200, organizer=200, admin=200)),
    Row("GET", "/events/<ref>/edit", "/events/{slug}/edit", organizers(200)),
    Row("GET", "/events/<ref>/calendar.ics", "/events/{slug}/calendar.ics", table(attendee=200, organizer=200,
                                                                                 admin=200)),
    Row("GET", "/events/<ref>/people", "/events/{slug}/people", table(attendee=200, organizer=200, admin=200)),
    Row("GET", "/events/<ref>/badge", "/events/{slug}/badge", owner_only(200)),
    Row("GET", "/events/<ref>/badges", "/events/{slug}/badges", organizers(200)),
    Row("GET", "/events/<ref>/badges.pdf", "/events/{slug}/badges.pdf?paper=letter&layout=8", organizers(200)),
    Row("GET", "/events/<ref>/attendees/<int:attendance_id>/badge.pdf",
        "/events/{slug}/attendees/{attendance}/badge.pdf", organizers(200)),
    Row("GET", "/events/<ref>/attendees", "/events/{slug}/attendees", organizers(200)),
    Row("GET", "/events/<ref>/attendees.csv", "/events/{slug}/attendees.csv", organizers(200)),
    Row("GET", "/events/<ref>/door", "/events/{slug}/door", organizers(200)),
    Row("GET", "/events/<ref>/dashboard", "/events/{slug}/dashboard", organizers(200)),
    Row("GET", "/events/<ref>/stats.json", "/events/{slug}/stats.json", organizers(200, anonymous=401)),
    Row("GET", "/events/<ref>/recaps", "/events/{slug}/recaps", organizers(200)),
    Row("GET", "/events/<ref>/recaps/preview/<int:user_id>", "/events/{slug}/recaps/preview/{attendee_id}",
        organizers(200)),
    Row("GET", "/events/<ref>/recaps/preview/<int:user_id>.html",
        "/events/{slug}/recaps/preview/{attendee_id}.html", organizers(200)),
    Row("GET", "/events/<ref>/imports", "/events/{slug}/imports", organizers(200)),
    Row("GET", "/events/<ref>/imports/template.csv", "/events/{slug}/imports/template.csv", organizers(200)),
    Row("GET", "/events/<ref>/imports/<int:import_id>", "/events/{slug}/imports/{done}", organizers(200)),
    Row("GET", "/events/<ref>/imports/<int:import_id>/progress", "/events/{slug}/imports/{done}/progress",
        organizers(200)),
    Row("GET", "/events/<ref>/imports/<int:import_id>/bad-rows.csv", "/events/{slug}/imports/{done}/bad-rows.csv",
        organizers(200)),
    Row("GET", "/not-me/<token>", "/not-me/{not_me}", everyone(200), link=True),
    # The public join page; someone already attending goes straight to their badge.
    Row("GET", "/join/<code>", "/join/{code}", {**everyone(200), "attendee": "→ /events/{slug}/badge"}),
    Row("GET", "/invite/<token>", "/invite/{invitation}", everyone(200), link=True),
    # The badge URL: a sign-in prompt, your own badge, connect (attendees) or check in (organizers).
    Row("GET", "/b/<token>", "/b/{badge}", {**table(anonymous=200, other_attendee=403, other_organizer=403,
                                                   organizer=200, admin=200),
                                            "attendee": "→ /events/{slug}/badge"}),
    Row("GET", "/scan", "/scan", signed_in(200)),
    Row("GET", "/contacts", "/contacts", signed_in(200)),
    Row("GET", "/contacts/<int:contact_id>", "/contacts/{contact}", owner_only(200)),
    Row("GET", "/contacts/new", "/contacts/new", signed_in(200)),
    Row("GET", "/contacts/scanned-me", "/contacts/scanned-me", signed_in(200)),
    Row("GET", "/contacts/losing-touch", "/contacts/losing-touch", signed_in(200)),
    Row("GET", "/contacts/import", "/contacts/import", signed_in(200)),
    Row("GET", "/contacts/import/<int:import_id>", "/contacts/import/{contact_import}", owner_only(200)),
    Row("GET", "/contacts.vcf", "/contacts.vcf", signed_in(200)),
    Row("GET", "/contacts.csv", "/contacts.csv", signed_in(200)),
    Row("GET", "/account/data.zip", "/account/data.zip", signed_in(200)),
    Row("GET", "/tags", "/tags", signed_in(200)),
    Row("GET", "/follow-ups", "/follow-ups", signed_in(200)),
    # Recap links act on the addressee's contact whoever opens them; digest links
    # refuse someone signed in to another account.
    Row("GET", "/f/<token>/<action>", "/f/{followup_token}/snooze", everyone(200), link=True),
    Row("GET", "/f/<token>", "/f/{followup_legacy}", everyone(200), link=True),
    Row("GET", "/touch/<token>", "/touch/{touch_token}", table(anonymous=200, attendee=200, other_attendee=403,
                                                               other_organizer=403, organizer=403, admin=403),
        link=True),
    Row("GET", "/unsubscribe/<token>", "/unsubscribe/{unsubscribe_token}", everyone(200), link=True),
    Row("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", everyone(200)),
    Row("GET", "/api/v1/me", "/api/v1/me", api(signed_in(200))),
    Row("GET", "/api/v1/me/contacts", "/api/v1/me/contacts", api(signed_in(200))),
    # --- writes on one's own account ---------------------------------------------------------------
    # Signed-in people are sent on; the attendee's password signs a stranger in as the attendee.
    Row("POST", "/login", "/login", everyone("→ /"), {"email": UNSHARED_EMAIL, "password": PASSWORD}, echo=True),
    Row("POST", "/signup", "/signup", everyone(200),
        {"name": "Newcomer", "email": "newcomer@example.com", "password": "a long enough password"}),
    Row("POST", "/login/link", "/login/link", everyone(200), {"email": UNSHARED_EMAIL}, echo=True),
    Row("POST", "/reset", "/reset", everyone(200), {"email": UNSHARED_EMAIL}, echo=True),
    Row("POST", "/account/email", "/account/email", signed_in("→ /account"), {"email": "moving@example.com"}),
    Row("POST", "/profile/edit", "/profile/edit", signed_in("→ /profile"),
        lambda scene: {"name": scene.own_name, "timezone": "Europe/Lisbon"}),
    Row("POST", "/profile/photo", "/profile/photo", signed_in("→ /profile/edit"), photo_form),
    Row("POST", "/profile/photo/delete", "/profile/photo/delete", signed_in("→ /profile/edit")),
    Row("POST", "/settings/email", "/settings/email", signed_in("→ /settings/email"),
        {"recaps": "y", "nudges": "y", "digests": "y", "digest_weekday": "0"}),
    Row("POST", "/settings/tokens", "/settings/tokens", signed_in(200), {"name": "laptop"}),
    Row("POST", "/settings/tokens/<int:token_id>/revoke", "/settings/tokens/{api_token}/revoke",
        owner_only("→ /settings/tokens")),
    Row("POST", "/account/password", "/account/password", signed_in("→ /account"),
        lambda scene: {"current_password": scene.own_password, **NEW_PASSWORD}),
    # --- events --------------------------------------------------------------------------------------
    Row("POST", "/events/new", "/events/new", event_creators("→ /events/…"), event_form),
    Row("POST", "/events/<ref>/edit", "/events/{slug}/edit", organizers("→ /events/{slug}"), event_form),
    Row("POST", "/events/<ref>/invite", "/events/{slug}/invite", organizers("→ /events/{slug}"),
        {"invite-name": "Ivy", "invite-email": "ivy.invited@example.com"}),
    Row("POST", "/events/<ref>/organizers", "/events/{slug}/organizers", organizers("→ /events/{slug}"),
        {"organizer-email": "cole@example.com"}),
    Row("POST", "/events/<ref>/organizers/<int:user_id>/remove", "/events/{slug}/organizers/{helper}/remove",
        organizers("→ /events/{slug}")),
    Row("POST", "/events/<ref>/join-link", "/events/{slug}/join-link", organizers("→ /events/{slug}"),
        {"enabled": "y"}),
    Row("POST", "/events/<ref>/people/listed", "/events/{slug}/people/listed",
        owner_only("→ /events/{slug}/people"), {"listed": "y"}),
    Row("POST", "/join/<code>/email", "/join/{code}/email", everyone(200), {"name": "Nia", "email": "nia@example.com"}),
    # --- scanning and checking in ---------------------------------------------------------------------
    Row("POST", "/b/<token>/connect", "/b/{badge}/connect",
        {**table(attendee="→ /b/{badge}", other_attendee="→ /b/{badge}", other_organizer="→ /b/{badge}",
                 organizer="→ /contacts/…", admin="→ /contacts/…")},
        lambda _scene: {"client_id": str(uuid.uuid4()), "note": "", "tags": ""}),
    Row("POST", "/b/<token>/check-in", "/b/{badge}/check-in", organizers("→ /b/{badge}")),
    Row("POST", "/api/v1/scans", "/api/v1/scans",
        api(table(attendee=422, other_attendee=403, other_organizer=403, organizer=201, admin=201)),
        lambda scene: "json:" + f'{{"badge": "{scene.values["badge"]}", "client_id": "{uuid.uuid4()}"}}'),
    Row("PATCH", "/api/v1/me/contacts/<int(max=2147483647):contact_id>", "/api/v1/me/contacts/{contact}",
        api(owner_only(200)), 'json:{"note": "PRIVATE-NOTE-4711 owes me a call, still"}'),
    # --- the address book ---------------------------------------------------------------------------
    Row("POST", "/contacts/<int:contact_id>/note", "/contacts/{contact}/note", owner_only("→ /contacts/{contact}"),
        {"note": PRIVATE_NOTE}),
    Row("POST", "/contacts/<int:contact_id>/details", "/contacts/{contact}/details",
        owner_only("→ /contacts/{contact}"),
        {"name": "Nora Offline", "email": OFFLINE_EMAIL, "phone": OFFLINE_PHONE, "company": "", "headline": ""}),
    Row("POST", "/contacts/<int:contact_id>/touch", "/contacts/{contact}/touch", owner_only("→ /contacts/{contact}"),
        {"kind": cadences.LOGGABLE[0].value, "note": "coffee"}),
    Row("POST", "/contacts/<int:contact_id>/snooze", "/contacts/{contact}/snooze",
        owner_only("→ /contacts/{contact}")),
    Row("POST", "/contacts/<int:contact_id>/cadence", "/contacts/{contact}/cadence",
        owner_only("→ /contacts/{contact}"), {"cadence": "30"}),
    Row("POST", "/contacts/<int:contact_id>/tags", "/contacts/{contact}/tags", owner_only("→ /contacts/{contact}"),
        {"tags": TAG_NAME}),
    # Ids of someone else's contacts are ignored, not tagged.
    Row("POST", "/contacts/bulk", "/contacts/bulk", signed_in("→ /contacts"),
        lambda scene: {"action": "tag", "tag": f"bulk-by-{scene.role}", "contact": str(scene.values["contact"]),
                       "back": "/contacts"}),
    Row("POST", "/contacts/reactivate", "/contacts/reactivate", signed_in("→ /contacts/losing-touch")),
    Row("POST", "/contacts/new", "/contacts/new", signed_in("→ /contacts/…"),
        {"name": "Someone New", "email": "", "phone": "", "company": "", "headline": "", "note": "", "tags": ""}),
    Row("POST", "/tags/<int:tag_id>/cadence", "/tags/{tag}/cadence", owner_only("→ /tags"),
        lambda scene: {f"t{scene.values['tag']}-cadence": "30"}),
    Row("POST", "/tags/<int:tag_id>/rename", "/tags/{tag}/rename", owner_only("→ /tags"),
        lambda scene: {f"r{scene.values['tag']}-name": TAG_NAME + "-renamed"}),
    Row("POST", "/follow-ups/<int:contact_id>/<action>", "/follow-ups/{linked}/followed-up",
        owner_only("→ /follow-ups")),
    Row("POST", "/contacts/import", "/contacts/import", signed_in("→ /contacts/import/…"), upload("mine.csv")),
    Row("POST", "/contacts/import/<int:import_id>", "/contacts/import/{contact_import}", owner_only("→ /contacts")),
    Row("POST", "/contacts/import/<int:import_id>/cancel", "/contacts/import/{contact_import_2}/cancel",
        owner_only("→ /contacts/import")),
    # --- organizing -------------------------------------------------------------------------------------
    Row("POST", "/events/<ref>/imports", "/events/{slug}/imports", organizers("→ /events/{slug}/imports/…"),
        upload("again.csv")),
    Row("POST", "/events/<ref>/imports/<int:import_id>/start", "/events/{slug}/imports/{to_start}/start",
        organizers("→ /events/{slug}/imports/{to_start}")),
    Row("POST", "/events/<ref>/imports/<int:import_id>/discard", "/events/{slug}/imports/{to_discard}/discard",
        organizers("→ /events/{slug}/imports")),
    Row("POST", "/events/<ref>/door/<int:attendance_id>/check-in", "/events/{slug}/door/{attendance}/check-in",
        organizers("→ /events/{slug}/door")),
    Row("POST", "/events/<ref>/door/walk-in", "/events/{slug}/door/walk-in", organizers("→ /events/{slug}/door"),
        {"name": "Wally Walkin", "email": "wally@example.com", "company": ""}),
    Row("POST", "/events/<ref>/badges/printed", "/events/{slug}/badges/printed", organizers("→ /events/{slug}/badges")),
    Row("POST", "/events/<ref>/recaps/send", "/events/{slug}/recaps/send", organizers("→ /events/{slug}/recaps")),
    Row("POST", "/admin/users/<int:user_id>/role", "/admin/users/{bystander}/role", admins("→ /admin/users"),
        {"role": "organizer", "next": "/admin/users"}),
    Row("POST", "/admin/users/<int:user_id>/disable", "/admin/users/{bystander}/disable", admins("→ /admin/users"),
        {"next": "/admin/users"}),
    Row("POST", "/admin/users/<int:user_id>/enable", "/admin/users/{bystander}/enable", admins("→ /admin/users"),
        {"next": "/admin/users"}),
    # --- emailed links: they act for their addressee, whoever is signed in ---------------------------------
    Row("POST", "/unsubscribe/<token>", "/unsubscribe/{unsubscribe_token}", everyone(200), link=True),
    Row("POST", "/touch/<token>", "/touch/{touch_token}", table(anonymous=200, attendee=200, other_attendee=403,
                                                                other_organizer=403, organizer=403, admin=403),
        link=True),
    Row("POST", "/f/<token>/<action>", "/f/{followup_token}/snooze", everyone(200), link=True),
    Row("POST", "/f/<token>", "/f/{followup_legacy}", everyone(200), link=True),
    Row("POST", "/not-me/<token>", "/not-me/{not_me}", everyone(200), link=True),
    Row("POST", "/invite/<token>", "/invite/{invitation}", everyone("→ /events/{slug}…"), link=True),
    Row("POST", "/verify/<token>", "/verify/{verify_token}", everyone("→ /"), link=True),
    Row("POST", "/login/link/<token>", "/login/link/{signin_token}", everyone("→ /"), link=True),
    # Confirming signs out the attendee's other sessions: only the attendee's own browser stays in.
    Row("POST", "/account/email/<token>", "/account/email/{change_token}",
        {**everyone("→ /login"), "attendee": "→ /account"}, link=True),
    Row("POST", "/reset/<token>", "/reset/{reset_token}", everyone("→ /"), NEW_PASSWORD, link=True),
    # --- what takes things away, last ------------------------------------------------------------------
    Row("POST", "/events/<ref>/badge/rotate", "/events/{slug}/badge/rotate", owner_only("→ /events/{slug}/badge")),
    Row("POST", "/contacts/<int:contact_id>/block", "/contacts/{linked}/block", owner_only("→ /contacts")),
    Row("POST", "/contacts/<int:contact_id>/remove", "/contacts/{removable}/remove", owner_only("→ /contacts")),
    Row("DELETE", "/api/v1/me/contacts/<int(max=2147483647):contact_id>", "/api/v1/me/contacts/{api_contact}",
        api(owner_only(204))),
    Row("POST", "/tags/<int:tag_id>/delete", "/tags/{tag}/delete", owner_only("→ /tags")),
    Row("POST", "/events/<ref>/attendees/<int:attendance_id>/remove", "/events/{slug}/attendees/{attendance}/remove",
        organizers("→ /events/{slug}/attendees")),
    Row("POST", "/events/<ref>/leave", "/events/{slug}/leave", owner_only("→ /events")),
    # Anyone signed in may join with the link (the attendee who just left joins again).
    Row("POST", "/join/<code>", "/join/{code}", signed_in("→ /events/{slug}…")),
    Row("POST", "/events/<ref>/join-link/new", "/events/{slug}/join-link/new", organizers("→ /events/{slug}")),
    Row("POST", "/events/<ref>/cancel", "/events/{slug}/cancel", organizers("→ /events/{slug}")),
    Row("POST", "/logout", "/logout", signed_in("→ /")),
    Row("POST", "/logout/everywhere", "/logout/everywhere", signed_in("→ /login")),
    # Organizers of events still to come, and the last site admin, can't leave yet.
    Row("POST", "/account/delete", "/account/delete",
        signed_in(422) | {"attendee": "→ /", "other_attendee": "→ /"}, lambda scene: {"email": scene.own_email}),
]


# --- The world each role walks ---------------------------------------------------------------------


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Scene:
    app: object
    world: object
    role: str
    values: dict = field(default_factory=dict)

    def user(self) -> User | None:
        """The role's user as the database has it now (sessions follow its version)."""
        if self.role == "anonymous":
            return None
        with self.app.app_context():
            user = db.session.get(User, self.world.user(self.role).id)
            if user is not None:
                db.session.expunge(user)
            return user

    @property
    def own_name(self) -> str:
        return self.world.user(self.role).name if self.role != "anonymous" else ""

    @property
    def own_email(self) -> str:
        return self.user().email if self.role != "anonymous" else ""

    @property
    def own_password(self) -> str:
        return PASSWORD

    def link_token(self, purpose: str, **extra) -> str:
        """A link for the attendee, signed now (an earlier password change would have voided an older one)."""
        with self.app.app_context():
            user = db.session.get(User, self.world.attendee.id)
            return tokens.make(purpose, uid=user.id, sv=user.session_version, **extra)

    def lazy(self) -> dict:
        return {
            "signin_token": lambda: self.link_token(accounts.SIGNIN),
            "verify_token": lambda: self.link_token(accounts.VERIFY),
            "reset_token": lambda: self.link_token(accounts.RESET),
            "change_token": lambda: self.link_token(accounts.CHANGE_EMAIL, email="ana.moved@example.com"),
        }

    def format(self, template: str) -> str:
        names = set(re.findall(r"{(\w+)}", template))
        lazy = self.lazy()
        return template.format(**{name: lazy[name]() if name in lazy else self.values[name] for name in names})


def build_scene(app, world, role: str) -> Scene:
    """Everything the table's URLs name, owned by the right people:
    the attendee's contacts (one with a private note and details nobody else
    may see), tag, API token, contact imports, photo and links; the event's
    registrant imports; an invitation; a message in the mail log."""
    with app.app_context():
        organizer = db.session.get(User, world.organizer.id)
        attendee = db.session.get(User, world.attendee.id)
        event = db.session.get(Event, world.event.id)
        attendee.phone, attendee.share_phone, attendee.share_email = UNSHARED_PHONE, False, False
        profiles.set_photo(attendee, tiny_png())
        connections.record_scan(organizer, world.attendee_badge, "matrix-1")  # the attendee now has a recap
        linked = contacts.owned(attendee, db.session.scalar(select(Contact.id).filter_by(owner_id=attendee.id)))
        contacts.set_note(linked, EVENT_NOTE)
        manual = contacts.create(attendee, note=PRIVATE_NOTE, name="Nora Offline", email=OFFLINE_EMAIL,
                                 phone=OFFLINE_PHONE)
        tags.add(manual, [TAG_NAME])
        removable = contacts.create(attendee, name="Rita Removable")
        for_api = contacts.create(attendee, name="Dora Deletable")
        token, _ = api_tokens.create(attendee, TOKEN_NAME)
        imports = [contact_import.create(attendee, "mine.csv", b"name,email\nIda Import,ida@example.com\n")
                   for _ in range(2)]
        helper = make_user(app, "helper@example.com", name="Hal Helper", password=None)
        db.session.add(EventOrganizer(event_id=event.id, user_id=helper.id))
        bystander = make_user(app, "bystander@example.com", name="Bea Bystander", password=None)
        joining.invite(event, organizer, "guest@example.com", "Gus Guest")
        db.session.flush()

        registrant_imports = []
        for run in (True, False, False):
            imp = registrant_import.create_import(event, organizer, "people.csv", CSV)
            db.session.commit()
            if run:
                registrant_import.start(imp)
                db.session.commit()
                registrant_import.run_import(imp.id)
            registrant_imports.append(imp.id)

        values = {
            "slug": event.slug,
            "code": event.join_code,
            "badge": world.attendee_badge,
            "attendee_id": attendee.id,
            "attendance": db.session.scalar(select(Attendance.id).filter_by(badge_token=world.attendee_badge)),
            "contact": manual.id,
            "linked": linked.id,
            "removable": removable.id,
            "api_contact": for_api.id,
            "tag": tags.find(attendee.id, TAG_NAME).id,
            "api_token": token.id,
            "contact_import": imports[0].id,
            "contact_import_2": imports[1].id,
            "helper": helper.id,
            "bystander": bystander.id,
            "done": registrant_imports[0],
            "to_start": registrant_imports[1],
            "to_discard": registrant_imports[2],
            "followup_token": followups.action_link(linked, "snooze").rsplit("/", 2)[-2],
            "followup_legacy": tokens.make(followups.PURPOSE, c=linked.id, o=attendee.id, a="followed-up"),
            "touch_token": touch_links.link(manual, touch_links.DONE).rsplit("/", 1)[-1],
            "unsubscribe_token": unsubscribe.link(attendee, "recaps").rsplit("/", 1)[-1],
            "invitation": _emailed_token("guest@example.com", "/invite/"),
            "not_me": _emailed_token("ivy@example.com", "/not-me/"),
            "message": db.session.scalar(select(OutboxMessage.id).limit(1)),
        }
        db.session.commit()
    assert all(value is not None for value in values.values()), values
    return Scene(app, world, role, values)


def _emailed_token(address: str, prefix: str) -> str:
    body = db.session.scalar(select(OutboxMessage.text_body).filter_by(recipient=address))
    return body.split(prefix, 1)[1].split()[0]


# --- Walking the table -----------------------------------------------------------------------------


def answer(response) -> int | str:
    if response.status_code in (301, 302, 303):
        location = urlsplit(response.headers["Location"])
        if location.path == "/login" and "next" in parse_qs(location.query):
            return LOGIN
        return f"→ {location.path}"
    return response.status_code


def matches(got, expected) -> bool:
    if isinstance(expected, str) and expected.endswith("…"):
        return isinstance(got, str) and got.startswith(expected[:-1])
    return got == expected


def sign_in_fresh(client, scene: Scene, raw_csrf: str) -> None:
    """Only the CSRF secret survives from one row to the next; then the role signs in."""
    user = scene.user()
    with client.session_transaction() as session:
        session.clear()
        session["csrf_token"] = raw_csrf
        if user is not None:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True


def request_row(client, scene: Scene, row: Row, url: str, csrf_token: str):
    data = row.data(scene) if callable(row.data) else row.data
    headers = {"X-CSRFToken": csrf_token}
    if isinstance(data, str) and data.startswith("json:"):
        return client.open(url, method=row.method, data=data[5:], content_type="application/json", headers=headers)
    form = {**(data or {}), "csrf_token": csrf_token} if row.method == "POST" else None
    return client.open(url, method=row.method, data=form, headers=headers)


def readable(response) -> str:
    """The text a response carries: a zip's files unpacked; PDFs (badges: names
    only) and images left out."""
    if response.mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    if response.mimetype == "application/pdf" or response.mimetype.startswith("image/"):
        return ""
    return response.get_data().decode("utf-8", "replace")


def private_data_shown(scene: Scene, row: Row, body: str) -> list[str]:
    """What this body shows that this role must never see."""
    shown = []
    if scene.role != "attendee":
        private = [PRIVATE_NOTE, OFFLINE_EMAIL, OFFLINE_PHONE, TAG_NAME, TOKEN_NAME, EVENT_NOTE]
        shown += [marker for marker in private if marker in body]
    if scene.role in ("anonymous", "other_attendee", "other_organizer") and not (row.link or row.echo):
        shown += [marker for marker in (UNSHARED_EMAIL, UNSHARED_PHONE) if marker in body]
    if scene.role != "admin" and row.rule.startswith("/admin/mail"):
        shown += ["the mail log"] if "guest@example.com" in body else []
    return shown


@pytest.mark.parametrize("role", EVENT_ROLES)
def test_every_route_answers_each_role_as_the_table_says(app, client, world, csrf, role):
    scene = build_scene(app, world, role)
    csrf_token = csrf_token_of(client)
    with client.session_transaction() as session:
        raw_csrf = session["csrf_token"]
    wrong = []
    for row in ROWS:
        sign_in_fresh(client, scene, raw_csrf)
        url = scene.format(row.url)
        expected = row.expected[role]
        expected = scene.format(expected) if isinstance(expected, str) else expected
        response = request_row(client, scene, row, url, csrf_token)
        got = answer(response)
        if not matches(got, expected):
            wrong.append(f"{row.method} {url}: expected {expected}, got {got}")
        elif got == LOGIN and parse_qs(urlsplit(response.headers["Location"]).query)["next"] != [urlsplit(url).path
                                                                                               + _query(url)]:
            wrong.append(f"{row.method} {url}: /login without next= this URL")
        body = readable(response)
        leaked = private_data_shown(scene, row, body)
        if leaked:
            wrong.append(f"{row.method} {url} shows {role} {leaked}")
        if "Traceback" in body:
            wrong.append(f"{row.method} {url}: a traceback")
    assert wrong == [], "\n".join(wrong)
    assert_only_the_owner_changed_their_things(app, scene)


def _query(url: str) -> str:
    query = urlsplit(url).query
    return f"?{query}" if query else ""


def assert_only_the_owner_changed_their_things(app, scene: Scene) -> None:
    """The writes others were refused left the attendee's things as they were,
    and the emailed links acted on the attendee's things, not the role's. The
    attendee's own walk ends by deleting the account: everything goes."""
    values = scene.values
    with app.app_context():
        if scene.role == "attendee":
            assert db.session.get(User, scene.world.attendee.id) is None
            assert db.session.scalar(select(func.count()).select_from(Contact).filter_by(
                owner_id=scene.world.attendee.id)) == 0
            return
        manual = db.session.get(Contact, values["contact"])
        attendee = db.session.get(User, scene.world.attendee.id)
        assert db.session.get(ApiToken, values["api_token"]).revoked_at is None
        assert db.session.get(Contact, values["removable"]).deleted_at is None
        assert db.session.get(Contact, values["api_contact"]).deleted_at is None
        assert manual.note == PRIVATE_NOTE
        assert [t.name for t in manual.tags] == [TAG_NAME]  # bulk tagging by others ignored its id
        assert db.session.get(ContactImport, values["contact_import_2"]) is not None
        # The unsubscribe link turned off the attendee's recaps, whoever pressed it,
        # and left the presser's own settings alone.
        assert attendee.email_recaps is False
        if scene.role != "anonymous":
            me = db.session.get(User, scene.world.user(scene.role).id)
            assert me is None or me.email_recaps is True, "the link changed the signed-in person's settings"
        # The digest link logs a touch only for someone signed out (or the owner).
        touches = db.session.scalar(select(func.count()).select_from(Interaction).filter_by(contact_id=manual.id))
        assert touches == (1 if scene.role == "anonymous" else 0)



@pytest.mark.parametrize("suffix", ["", ".html"])
def test_an_organizers_recap_preview_leaves_out_the_attendees_private_notes(app, client, world, suffix):
    scene = build_scene(app, world, "organizer")
    world.sign_in("organizer")

    response = client.get(f"/events/{scene.values['slug']}/recaps/preview/{scene.values['attendee_id']}{suffix}")

    assert response.status_code == 200 and "Olga Organizer" in response.get_data(as_text=True)
    assert EVENT_NOTE not in response.get_data(as_text=True)



def test_an_organizers_recap_preview_carries_no_working_links_to_the_attendees_contacts(app, client, world):
    scene = build_scene(app, world, "organizer")
    world.sign_in("organizer")

    body = client.get(f"/events/{scene.values['slug']}/recaps/preview/{scene.values['attendee_id']}").get_data(
        as_text=True)

    assert "Olga Organizer" in body
    assert "/f/" not in body


def test_the_table_covers_every_rule_and_method(app):
    served = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    tabled = [row.key for row in ROWS]
    assert len(tabled) == len(set(tabled)), "a rule and method is in the table twice"
    assert served - set(tabled) == set(), "add these to ROWS, with who may use them"
    assert set(tabled) - served == set(), "these are gone from the app: remove them from ROWS"


def test_every_row_names_every_role(app):
    for row in ROWS:
        assert set(row.expected) == set(EVENT_ROLES), row.key

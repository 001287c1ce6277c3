"""Profile: who I am now, my photo, and what someone who scans my badge may see."""

from __future__ import annotations

import io
import re
import struct
import zlib
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from tests.factories import make_user, reload
from webapp.extensions import db as _db
from webapp.models import Role, User
from webapp.services import ValidationFailed, profiles

FULL_PROFILE = {
    "name": "Ada Lovelace",
    "headline": "Analytical engines, now into climate data",
    "company": "Difference Works",
    "looking_for": "Grid-storage founders who need a data partner.",
    "linkedin_url": "https://www.linkedin.com/in/ada-lovelace",
    "phone": "+44 20 7946 0018",
    "timezone": "Europe/London",
}


def profile_form(**changes) -> dict:
    """A complete edit-form submission; sharing switches are sent only when on."""
    data = {**FULL_PROFILE, **changes}
    return {key: value for key, value in data.items() if value is not False}


def field_error(body: str, field: str) -> str | None:
    match = re.search(rf'<small id="{field}-error" class="field-error">(.*?)</small>', body, re.S)
    return unescape(match.group(1)).strip() if match else None


def error_fields(body: str) -> set[str]:
    return set(re.findall(r'<small id="([a-z_]+)-error" class="field-error">', body))


def stored(app, user_id: int) -> dict:
    with app.app_context():
        user = _db.session.get(User, user_id)
        return {
            **{f: getattr(user, f) for f in (*profiles.PROFILE_FIELDS, *profiles.SHARING_FIELDS)},
            "photo": user.photo,
            "photo_version": user.photo_version,
        }


def image_bytes(fmt: str, size=(640, 480), halves=((200, 20, 20), (20, 20, 200))) -> bytes:
    """A picture whose left half and right half have different colours."""
    image = Image.new("RGB", size, halves[0])
    image.paste(halves[1], (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    data = bytearray(image_bytes("PNG", size=(1, 1)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def upload(client, payload: bytes, filename: str = "me.png"):
    return client.post(
        "/profile/photo", data={"photo": (io.BytesIO(payload), filename)}, content_type="multipart/form-data"
    )


def photo_url(client) -> str:
    match = re.search(r'<img class="avatar" src="([^"]+)"', client.get("/profile/edit").get_data(as_text=True))
    assert match, "no photo on the edit page"
    return unescape(match.group(1))


@pytest.fixture
def me(app, auth):
    user = make_user(app, name="Ada Lovelace", password=None, headline="Before", company="Old Co",
                     phone="+44 20 7946 0000", timezone="UTC")
    auth.as_user(user)
    return user


def test_edit_page_shows_my_current_values(client, me):
    response = client.get("/profile/edit")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="Ada Lovelace"' in body and 'value="Old Co"' in body and 'value="+44 20 7946 0000"' in body
    assert '<option selected value="UTC">' in body


@pytest.mark.parametrize(("given", "lands_on"), [
    ("/events/x/badge", "/events/x/badge"), ("https://evil.example/", "/profile"), ("//evil.example", "/profile"),
])
def test_saving_the_profile_returns_to_a_same_site_next_page_only(app, client, me, given, lands_on):
    response = client.post("/profile/edit", query_string={"next": given}, data=profile_form())
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == lands_on
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")


def test_saving_the_profile_stores_every_field(app, client, me):
    response = client.post("/profile/edit", data=profile_form(share_email=False, share_phone="y",
                                                               share_linkedin=False))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/profile"
    saved = stored(app, me.id)
    for field, value in FULL_PROFILE.items():
        assert saved[field] == value, field
    assert (saved["share_email"], saved["share_phone"], saved["share_linkedin"]) == (False, True, False)


def test_sharing_switches_can_be_turned_back_on_and_off(app, client, me):
    client.post("/profile/edit", data=profile_form(share_email=False, share_phone="y", share_linkedin=False))
    client.post("/profile/edit", data=profile_form(share_email="y", share_phone=False, share_linkedin="y"))
    saved = stored(app, me.id)
    assert (saved["share_email"], saved["share_phone"], saved["share_linkedin"]) == (True, False, True)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("linkedin.com/in/ada-l/", "https://linkedin.com/in/ada-l"),
     ("http://de.linkedin.com/in/ada?trk=share", "https://de.linkedin.com/in/ada"),
     ("", "")],
)
def test_linkedin_addresses_are_tidied(app, client, me, given, expected):
    assert client.post("/profile/edit", data=profile_form(linkedin_url=given)).status_code == 302
    assert stored(app, me.id)["linkedin_url"] == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("linkedin_url", "https://evil.example/in/ada"),
        ("linkedin_url", "https://linkedin.com.evil.example/in/ada"),
        ("linkedin_url", "javascript:alert(1)"),
        ("phone", "call me maybe"),
        ("phone", "((( -- )))"),
        ("timezone", "Mars/Olympus_Mons"),
        ("name", "   "),
    ],
)
def test_an_invalid_field_is_shown_on_that_field_and_nothing_is_saved(app, client, me, field, value):
    before = stored(app, me.id)
    response = client.post("/profile/edit", data=profile_form(**{field: value}))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(body, field)
    assert error_fields(body) == {field}
    assert re.search(rf'aria-invalid="true"[^>]*id="{field}"|id="{field}"[^>]*aria-invalid="true"', body)
    assert stored(app, me.id) == before


def test_a_rejected_update_leaves_the_user_object_untouched(ctx, me):
    user = _db.session.get(User, me.id)
    with pytest.raises(ValidationFailed) as excinfo:
        profiles.update_profile(user, **{**FULL_PROFILE, "linkedin_url": "https://example.com/ada"})
    assert excinfo.value.field == "linkedin_url"
    assert (user.name, user.headline, user.company) == ("Ada Lovelace", "Before", "Old Co")
    assert not _db.session.dirty


@pytest.mark.parametrize(("fmt", "filename", "size"), [("PNG", "me.png", (640, 480)), ("JPEG", "me.jpg", (300, 900))])
def test_a_photo_is_resized_to_a_256px_jpeg_kept_in_the_database(app, client, me, fmt, filename, size):
    response = upload(client, image_bytes(fmt, size=size), filename)
    assert response.status_code == 302
    photo = stored(app, me.id)["photo"]
    with Image.open(io.BytesIO(photo)) as image:
        assert image.format == "JPEG"
        assert image.size == (256, 256)
        rgb = image.convert("RGB")
        # The picture itself survived the crop: red on the left, blue on the right.
        left, right = rgb.getpixel((5, 128)), rgb.getpixel((250, 128))
        if size[0] > size[1]:
            assert left[0] > 150 > left[2] and right[2] > 150 > right[0]
    served = client.get(photo_url(client))
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.data == photo


@pytest.mark.parametrize(
    ("payload", "filename"),
    [
        (b"this is not an image at all", "me.png"),
        (image_bytes("GIF"), "me.png"),
        (image_bytes("PNG")[:60], "me.png"),
        (b"%PDF-1.4 not a photo", "me.txt"),
    ],
    ids=["text-named-png", "gif-named-png", "truncated-png", "wrong-extension"],
)
def test_a_file_that_is_not_a_photo_is_refused_on_the_photo_field(app, client, me, payload, filename):
    response = upload(client, payload, filename)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(body, "photo")
    saved = stored(app, me.id)
    assert saved["photo"] is None and saved["photo_version"] == 0


@pytest.mark.parametrize("size", [(8000, 6000), (50000, 50000)], ids=["over-our-limit", "over-pillow-bomb-limit"])
def test_a_huge_image_is_refused_as_too_many_pixels(app, client, me, size):
    response = upload(client, png_claiming_size(*size))
    assert response.status_code == 422
    assert "too many pixels" in field_error(response.get_data(as_text=True), "photo")
    assert stored(app, me.id)["photo"] is None


def test_a_refused_photo_keeps_the_profile_form_showing_saved_values(client, me):
    client.post("/profile/edit", data=profile_form(share_email="y", share_phone="y", share_linkedin="y"))
    body = upload(client, b"not an image").get_data(as_text=True)
    for switch in profiles.SHARING_FIELDS:
        tag = re.search(rf'<input[^>]*id="{switch}"[^>]*>', body).group(0)
        assert "checked" in tag, switch
    assert 'value="Difference Works"' in body


def test_an_upload_over_the_request_limit_gets_the_too_large_page(app, client, me):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = upload(client, b"\0" * 20_000)
    assert response.status_code == 413
    assert "Too large" in response.get_data(as_text=True)


def test_removing_the_photo_forgets_it_and_a_new_one_gets_a_new_url(app, client, me):
    upload(client, image_bytes("PNG"))
    first_url = photo_url(client)
    response = client.post("/profile/photo/delete")
    assert response.status_code == 302
    saved = stored(app, me.id)
    assert saved["photo"] is None
    assert '<img class="avatar"' not in client.get("/profile/edit").get_data(as_text=True)
    assert client.get(first_url).status_code == 404
    # Photo URLs are cached as immutable: a later photo must not reuse the old URL.
    upload(client, image_bytes("PNG", halves=((20, 200, 20), (20, 200, 20))))
    second_url = photo_url(client)
    assert urlsplit(second_url).path == urlsplit(first_url).path
    assert parse_qs(urlsplit(second_url).query) != parse_qs(urlsplit(first_url).query)
    assert client.get(second_url).status_code == 200


@pytest.mark.parametrize(("role", "status"), [(Role.ATTENDEE, 404), (Role.ORGANIZER, 404), (Role.ADMIN, 200)])
def test_only_i_and_admins_can_fetch_my_photo(app, client, auth, me, role, status):
    upload(client, image_bytes("PNG"))
    url = photo_url(client)
    auth.as_user(make_user(app, password=None, role=role.value))
    response = client.get(url)
    assert response.status_code == status
    if status == 200:
        assert response.data == stored(app, me.id)["photo"]


def test_an_unknown_users_photo_is_404(client, me):
    assert client.get("/profile/987654/photo.jpg").status_code == 404


def test_anonymous_photo_request_goes_to_sign_in(app, client):
    user = make_user(app, password=None)
    response = client.get(f"/profile/{user.id}/photo.jpg")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def sharing_lines(body: str) -> dict[str, str]:
    block = re.search(r'<ul class="sharing">(.*?)</ul>', body, re.S).group(1)
    items = [" ".join(unescape(re.sub(r"<[^>]+>", "", li)).split())
             for li in re.findall(r"<li>(.*?)</li>", block, re.S)]
    return {item.split()[0]: item for item in items}


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"share_email": True, "share_phone": True, "share_linkedin": True, "phone": "+351 912 000 111",
          "linkedin_url": "https://www.linkedin.com/in/ada"},
         {"Email": "shared", "Phone": "shared", "LinkedIn": "shared"}),
        ({"share_email": False, "share_phone": False, "share_linkedin": False, "phone": "+351 912 000 111",
          "linkedin_url": "https://www.linkedin.com/in/ada"},
         {"Email": "hidden", "Phone": "hidden", "LinkedIn": "hidden"}),
        # Sharing something I never filled in shows nothing.
        ({"share_email": True, "share_phone": True, "share_linkedin": True, "phone": "", "linkedin_url": ""},
         {"Email": "shared", "Phone": "hidden", "LinkedIn": "hidden"}),
    ],
)
def test_profile_page_shows_what_a_scanner_would_see(app, client, auth, profile, expected):
    user = make_user(app, "ada@example.com", name="Ada Lovelace", password=None, headline="Engines", **profile)
    auth.as_user(user)
    body = client.get("/profile").get_data(as_text=True)
    assert "Ada Lovelace" in body and "Engines" in body
    lines = sharing_lines(body)
    assert lines["Name"].endswith("always")
    for what, state in expected.items():
        assert lines[what].endswith(state), lines[what]
    assert "ada@example.com" in lines["Email"]
    if profile["phone"]:
        assert profile["phone"] in lines["Phone"]


def test_profile_page_invites_me_to_say_what_i_am_looking_for(app, client, auth):
    auth.as_user(make_user(app, password=None))
    body = client.get("/profile").get_data(as_text=True)
    assert "Say what you&#39;re looking for now" in body or "Say what you're looking for now" in body


@pytest.mark.parametrize(("method", "path"), [("get", "/profile"), ("get", "/profile/edit"), ("post", "/profile/edit"),
                                              ("post", "/profile/photo"), ("post", "/profile/photo/delete")])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


def test_profile_edit_needs_the_csrf_token(app, client, me, csrf):
    before = stored(app, me.id)
    response = client.post("/profile/edit", data=profile_form())
    assert response.status_code == 403
    assert stored(app, me.id) == before
    assert reload(app, User, me.id).headline == "Before"

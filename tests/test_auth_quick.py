from tests.factories import PASSWORD, make_user


def test_login_then_home_shows_name(app, client, auth):
    user = make_user(app, "ana@example.com", name="Ana Souza")
    response = auth.login("ana@example.com", PASSWORD)
    assert response.status_code == 302
    assert "Ana" in client.get("/").get_data(as_text=True)
    assert user.email == "ana@example.com"


def test_signin_link_flow(app, client, outbox):
    make_user(app, "ben@example.com", name="Ben")
    response = client.post("/login/link", data={"email": "ben@example.com"})
    assert response.status_code == 200
    path = outbox.path(outbox.last("ben@example.com"), "/login/link/")
    page = client.get(path)
    assert "Sign me in" in page.get_data(as_text=True)
    assert client.post(path).status_code == 302
    assert "Ben" in client.get("/").get_data(as_text=True)
    assert client.post(path).status_code == 400

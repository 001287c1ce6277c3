"""Settings come from the environment exactly as DESIGN.md's "Stable interfaces" say.

Every test passes an explicit env mapping to ``config.load`` and its own
instance directory, so nothing depends on the developer's shell.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from webapp import config
from webapp.config import ConfigError


def load(tmp_path: Path, **env: str) -> dict:
    return config.load({"MEETLOOP_INSTANCE": str(tmp_path / "instance"), **env})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://meet:s3cret@db.example:5432/meetloop",
         "postgresql+psycopg://meet:s3cret@db.example:5432/meetloop"),
        ("postgresql://meet:s3cret@db.example:5432/meetloop?sslmode=require",
         "postgresql+psycopg://meet:s3cret@db.example:5432/meetloop?sslmode=require"),
        ("postgresql://postgres@127.0.0.1/meetloop", "postgresql+psycopg://postgres@127.0.0.1/meetloop"),
    ],
)
def test_postgres_urls_are_pointed_at_psycopg3(tmp_path, given, expected):
    assert load(tmp_path, DATABASE_URL=given)["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://u@h/db", "sqlite:////var/lib/meetloop/app.db", "mysql://u@h/db"],
)
def test_other_database_urls_are_left_alone(tmp_path, url):
    assert load(tmp_path, DATABASE_URL=url)["SQLALCHEMY_DATABASE_URI"] == url


def test_database_defaults_to_sqlite_in_the_instance_dir(tmp_path):
    settings = load(tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'meetloop.db'}"
    assert settings["INSTANCE_DIR"] == str(tmp_path / "instance")


def test_blank_database_url_means_the_default(tmp_path):
    assert load(tmp_path, DATABASE_URL="  ")["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


def test_an_explicit_env_mapping_ignores_the_process_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://leaked@elsewhere/db")
    monkeypatch.setenv("MAIL_SERVER", "smtp.leaked.example")
    settings = load(tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["MAIL_SERVER"] is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("0", False), ("true", True), ("false", False), ("yes", True), ("no", False),
     ("TRUE", True), ("No", False), (" yes ", True)],
)
def test_booleans_accept_1_0_true_false_yes_no(tmp_path, raw, expected):
    settings = load(tmp_path, MAIL_USE_TLS=raw, MAIL_USE_SSL=raw, RATELIMIT_ENABLED=raw)
    assert settings["MAIL_USE_TLS"] is expected
    assert settings["MAIL_USE_SSL"] is expected
    assert settings["RATELIMIT_ENABLED"] is expected


def test_unset_or_blank_booleans_keep_their_defaults(tmp_path):
    unset = load(tmp_path)
    blank = load(tmp_path, RATELIMIT_ENABLED="", MAIL_USE_TLS=" ")
    assert unset["RATELIMIT_ENABLED"] is True and unset["MAIL_USE_TLS"] is False
    # An empty line in an env file must not quietly turn rate limits off.
    assert blank["RATELIMIT_ENABLED"] is True and blank["MAIL_USE_TLS"] is False


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "enabled", "-1"])
def test_junk_booleans_are_refused_with_a_message_naming_the_setting(tmp_path, raw):
    with pytest.raises(ConfigError) as excinfo:
        load(tmp_path, MAIL_USE_TLS=raw)
    message = str(excinfo.value)
    assert "MAIL_USE_TLS" in message
    assert repr(raw) in message
    assert "\n" not in message


def test_a_non_numeric_port_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="MAIL_PORT"):
        load(tmp_path, MAIL_PORT="twenty-five")


def test_secret_key_is_required_in_production(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load(tmp_path, MEETLOOP_ENV="production")
    # Nothing was generated behind the operator's back.
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_uses_the_given_secret_key_and_secure_cookies(tmp_path):
    settings = load(tmp_path, MEETLOOP_ENV="production", SECRET_KEY="a-long-production-secret")
    assert settings["SECRET_KEY"] == "a-long-production-secret"
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True


def test_development_generates_a_secret_key_once_into_the_instance_dir(tmp_path):
    first = load(tmp_path)
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text().strip() == first["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Web, worker and CLI each call load(): they must agree.
    assert load(tmp_path)["SECRET_KEY"] == first["SECRET_KEY"]
    assert first["SESSION_COOKIE_SECURE"] is False


def test_each_instance_dir_gets_its_own_generated_key(tmp_path):
    one = config.load({"MEETLOOP_INSTANCE": str(tmp_path / "one")})
    two = config.load({"MEETLOOP_INSTANCE": str(tmp_path / "two")})
    assert one["SECRET_KEY"] != two["SECRET_KEY"]


def test_an_explicit_secret_key_wins_over_the_generated_one(tmp_path):
    generated = load(tmp_path)["SECRET_KEY"]
    assert load(tmp_path, SECRET_KEY="from-the-environment")["SECRET_KEY"] == "from-the-environment"
    assert load(tmp_path)["SECRET_KEY"] == generated


def test_an_empty_key_file_is_an_error_not_an_empty_key(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="secret_key"):
        load(tmp_path)


@pytest.mark.parametrize(("env", "expected"), [({}, "http://127.0.0.1:5000"), ({"PORT": "8123"}, "http://127.0.0.1:8123")])
def test_base_url_defaults_to_localhost_on_port(tmp_path, env, expected):
    assert load(tmp_path, **env)["BASE_URL"] == expected


def test_base_url_is_used_as_given_without_a_trailing_slash(tmp_path):
    assert load(tmp_path, BASE_URL="https://meet.example.org/", PORT="8123")["BASE_URL"] == "https://meet.example.org"
    assert load(tmp_path, BASE_URL="  ", PORT="8123")["BASE_URL"] == "http://127.0.0.1:8123"


def test_without_mail_server_mail_goes_to_files_in_the_instance_dir(tmp_path):
    settings = load(tmp_path)
    assert settings["MAIL_SERVER"] is None
    assert settings["MAIL_TRANSPORT"] == "file"
    assert settings["MAIL_DIR"] == str(tmp_path / "instance" / "mail")


def test_with_mail_server_mail_goes_over_smtp(tmp_path):
    settings = load(
        tmp_path, MAIL_SERVER="smtp.example.org", MAIL_PORT="587", MAIL_USE_TLS="yes",
        MAIL_USERNAME="meetloop", MAIL_PASSWORD="pw", MAIL_DEFAULT_SENDER="MeetLoop <hi@example.org>",
    )
    assert settings["MAIL_TRANSPORT"] == "smtp"
    assert settings["MAIL_SERVER"] == "smtp.example.org"
    assert settings["MAIL_PORT"] == 587
    assert settings["MAIL_USE_TLS"] is True
    assert settings["MAIL_USERNAME"] == "meetloop"
    assert settings["MAIL_PASSWORD"] == "pw"
    assert settings["MAIL_DEFAULT_SENDER"] == "MeetLoop <hi@example.org>"


def test_redis_url_moves_rate_limit_counters_to_redis(tmp_path):
    assert load(tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"
    with_redis = load(tmp_path, REDIS_URL="redis://cache.example:6379/2")
    assert with_redis["REDIS_URL"] == "redis://cache.example:6379/2"
    assert with_redis["RATELIMIT_STORAGE_URI"] == "redis://cache.example:6379/2"


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(tmp_path):
    from flask import request

    from webapp import create_app

    seen = {}
    for hops in (0, 1):
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "TRUSTED_PROXIES": hops})

        @app.get("/whoami")
        def whoami():
            return f"{request.remote_addr} {request.scheme}"

        seen[hops] = app.test_client().get(
            "/whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "198.51.100.2"},
        ).get_data(as_text=True)

    assert seen[0] == "198.51.100.2 http"
    assert seen[1] == "203.0.113.7 https"
